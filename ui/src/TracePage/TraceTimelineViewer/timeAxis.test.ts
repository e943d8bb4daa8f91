import { describe, expect, it } from "vitest";
import { niceStep, timeTicks } from "./timeAxis";

describe("niceStep", () => {
  it.each([
    [1000, 5, 200],
    [1000, 10, 100],
    [7, 5, 2],
    [0.9, 4, 0.5],
    [123456, 6, 50000],
  ])("range %s in %s ticks → %s", (range, ticks, step) => {
    expect(niceStep(range, ticks)).toBeCloseTo(step);
  });
});

describe("timeTicks", () => {
  it("starts at zero and labels offsets", () => {
    const ticks = timeTicks(0, 1000, 5);
    expect(ticks.map((t) => t.ms)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(ticks.map((t) => t.label)).toEqual(["0ms", "200ms", "400ms", "600ms", "800ms", "1s"]);
    expect(ticks[5]!.position).toBe(1);
  });

  it("only ticks inside a zoomed window, positioned within it", () => {
    const ticks = timeTicks(130, 470, 4);
    expect(ticks.map((t) => t.ms)).toEqual([200, 300, 400]);
    expect(ticks[0]!.position).toBeCloseTo(70 / 340);
  });

  it("has no float noise in sub-millisecond steps", () => {
    expect(timeTicks(0, 0.6, 6).map((t) => t.ms)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
  });

  it("returns one tick for an empty window", () => {
    expect(timeTicks(5, 5)).toHaveLength(1);
  });
});
