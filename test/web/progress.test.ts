/** The playground's progress line: durations, the measured time per step, the ETA, the estimate before a run. */
import { describe, expect, it } from "vitest";
import { RunClock, estimateLine, formatDuration, formatRemaining } from "../../web/progress.ts";

describe("formatDuration", () => {
  it("shows seconds, then minutes and seconds, then hours and minutes", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(44_600)).toBe("45s");
    expect(formatDuration(192_000)).toBe("3m12s");
    expect(formatDuration(3_900_000)).toBe("1h05m");
    expect(formatRemaining(1_260_000)).toBe("21m");
    expect(formatRemaining(65_000)).toBe("1m05s");
  });
});

describe("RunClock", () => {
  it("measures the time per step between reports, leaves stopped time out, and estimates the rest", () => {
    let t = 0;
    const c = new RunClock(300, () => t);
    expect(c.line()).toBe("step 0/300 · 0s elapsed · measuring the time per step");
    c.start();
    t = 9_000; // the first step compiles: slow, and not a gap between reports
    c.record(1, 9_000);
    expect(c.msPerStep).toBe(9_000);
    for (let s = 2; s <= 40; s++) {
      t += 5_000;
      c.record(s, 4_900);
    }
    expect(c.msPerStep).toBe(5_000);
    expect(c.line()).toBe("step 40/300 · 3m24s elapsed · ~22m left");
    c.stop();
    t += 3_600_000; // an hour stopped
    expect(c.elapsedMs).toBe(204_000);
    c.start();
    t += 60_000; // the gap across a stop is not a step's time
    c.record(41, 5_000);
    expect(c.msPerStep).toBe(5_000);
    expect(c.elapsedMs).toBe(264_000);
    c.stop();
    c.record(300, 5_000);
    expect(c.line()).toBe("step 300/300 · 4m24s elapsed · done");
  });
});

describe("estimateLine", () => {
  it("estimates from a time per step measured before, and says when there is none", () => {
    expect(estimateLine(300, 5_000)).toBe("300 steps: ~25m at the 5.00s a step measured last time in this browser");
    expect(estimateLine(300, undefined)).toMatch(/^300 steps; the time per step is measured once training starts/);
  });
});
