/** Time-axis ticks for the waterfall: "nice" steps (1, 2, 5 × 10^k ms) across a visible window. */
import { formatDuration } from "@/lib/format";

export interface Tick {
  /** Time since the trace start, ms. */
  ms: number;
  /** Position in the visible window, 0..1. */
  position: number;
  label: string;
}

/** The smallest 1/2/5 × 10^k step that yields at most `maxTicks` intervals over `rangeMs`. */
export function niceStep(rangeMs: number, maxTicks: number): number {
  if (!(rangeMs > 0) || maxTicks < 1) return 1;
  const raw = rangeMs / maxTicks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) {
    if (m * pow >= raw) return m * pow;
  }
  return 10 * pow;
}

/**
 * Ticks for the window [fromMs, toMs] (ms since the trace start): multiples of a nice step that
 * fall inside the window, at most `maxTicks + 1` of them, each labelled with its offset.
 */
export function timeTicks(fromMs: number, toMs: number, maxTicks = 6): Tick[] {
  const range = toMs - fromMs;
  if (!(range > 0)) return [{ ms: fromMs, position: 0, label: formatDuration(fromMs) }];
  const step = niceStep(range, maxTicks);
  const first = Math.ceil(fromMs / step - 1e-9) * step;
  const ticks: Tick[] = [];
  for (let k = 0; ; k++) {
    const ms = first + k * step;
    if (ms > toMs + step * 1e-9) break;
    // Round away float noise (0.30000000000000004) before labelling.
    const clean = Number(ms.toPrecision(12));
    ticks.push({ ms: clean, position: (clean - fromMs) / range, label: formatDuration(clean) });
  }
  return ticks;
}
