/**
 * A small uPlot line/area chart over time. Colours come from the theme's CSS variables and are
 * re-read when the colour scheme changes; the chart follows its container's width.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** CSS variable name, e.g. "--bar". */
  color: string;
  values: (number | null)[];
}

interface Props {
  times: number[]; // seconds since the epoch
  series: ChartSeries[];
  format: (v: number) => string;
  height?: number;
  bars?: boolean;
  /** The x range to show, seconds since the epoch (the selected time window). */
  xRange?: [number, number];
}

export function TimeChart({ times, series, format, height = 180, bars = false, xRange }: Props) {
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let chart: uPlot | null = null;
    const build = () => {
      chart?.destroy();
      const css = getComputedStyle(el);
      const v = (name: string) => css.getPropertyValue(name).trim();
      const axis = { stroke: v("--muted"), grid: { stroke: v("--border"), width: 1 }, ticks: { stroke: v("--border"), width: 1 } };
      const opts: uPlot.Options = {
        width: Math.max(200, el.clientWidth),
        height,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: xRange ? { time: true, range: () => xRange } : { time: true },
          // Counts, latencies, tokens and cost are never negative: start the axis at zero.
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [axis, { ...axis, size: 64, values: (_u, vals) => vals.map((x) => (x === null ? "" : format(x))) }],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: v(s.color),
            width: 1.5,
            fill: `${v(s.color)}33`,
            points: { show: times.length < 3 },
            value: (_u: uPlot, x: number | null) => (x === null ? "–" : format(x)),
            ...(bars ? { paths: uPlot.paths.bars!({ size: [0.7, 40] }), fill: `${v(s.color)}aa` } : {}),
          })),
        ],
      };
      chart = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    };
    build();
    const ro = new ResizeObserver(() => chart?.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    const mq = window.matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", build);
    return () => {
      ro.disconnect();
      mq.removeEventListener("change", build);
      chart?.destroy();
    };
  }, [times, series, format, height, bars, xRange?.[0], xRange?.[1]]); // eslint-disable-line react-hooks/exhaustive-deps

  return <div ref={ref} className="time-chart" />;
}
