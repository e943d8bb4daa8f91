import { describe, expect, it } from "vitest";
import { formatCompact, formatCost, formatDuration, formatInt, formatPercent, formatRelative, formatTimestamp, nowNsString } from "./format";

describe("formatDuration", () => {
  it.each([
    [null, "–"],
    [0, "0ms"],
    [0.42, "420µs"],
    [0.0051, "5.1µs"],
    [3.456, "3.46ms"],
    [12.34, "12.3ms"],
    [999, "999ms"],
    [1234, "1.23s"],
    [45_600, "45.6s"],
    [125_000, "2m 5s"],
    [7_260_000, "2h 1m"],
    [-1500, "-1.5s"],
  ])("%s → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("numbers", () => {
  it("compacts, separates and percents", () => {
    expect(formatCompact(950)).toBe("950");
    expect(formatCompact(12_345)).toBe("12.3k");
    expect(formatCompact(2_500_000)).toBe("2.5M");
    expect(formatInt(1_234_567)).toBe("1,234,567");
    expect(formatPercent(0.0512)).toBe("5.1%");
    expect(formatPercent(0.5)).toBe("50%");
    expect(formatPercent(undefined)).toBe("–");
  });

  it("formats costs down to sub-cent values", () => {
    expect(formatCost(null)).toBe("–");
    expect(formatCost(0)).toBe("$0");
    expect(formatCost(1.5)).toBe("$1.50");
    expect(formatCost(0.0425)).toBe("$0.0425");
    expect(formatCost(0.000123)).toBe("$0.000123");
  });
});

describe("times", () => {
  it("formats ns timestamps in local time with ms", () => {
    const ns = new Date(2024, 4, 1, 13, 4, 5, 123).getTime() * 1e6;
    expect(formatTimestamp(ns)).toBe("2024-05-01 13:04:05.123");
  });

  it("says how long ago", () => {
    const now = 1_700_000_000_000;
    expect(formatRelative((now - 5_000) * 1e6, now)).toBe("5s ago");
    expect(formatRelative((now - 3 * 3600_000) * 1e6, now)).toBe("3h ago");
  });

  it("gives now in exact ns digits", () => {
    expect(nowNsString()).toMatch(/^\d{19}$/);
    expect(nowNsString().endsWith("000000")).toBe(true);
  });
});
