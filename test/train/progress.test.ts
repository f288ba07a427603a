import { describe, it, expect } from "vitest";
import { createProgress } from "../../train/progress.ts";

const fakeStream = (isTTY = false) => {
  const chunks: string[] = [];
  return {
    chunks,
    isTTY,
    columns: 200,
    write: (s: string) => {
      chunks.push(s);
      return true;
    },
    text: () => chunks.join(""),
  };
};

describe("createProgress (not a TTY)", () => {
  it("prints plain lines rate-limited by steps, and always the final step", () => {
    const out = fakeStream();
    let t = 0;
    const p = createProgress({ total: 100, stream: out, label: "train", everySteps: 25, now: () => t });
    for (let s = 1; s <= 100; s++) {
      t += 100; // 0.1 s per step
      p.update(s, { loss: 5 - s / 100, tokPerSec: 12_345 });
    }
    p.done();
    const lines = out.text().trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe("train   1/100 loss 4.9900 tok/s 12.3k eta ?");
    expect(lines[1]).toBe("train  26/100 loss 4.7400 tok/s 12.3k eta 7s"); // 74 steps left × 0.1 s
    expect(lines[4]).toBe("train 100/100 loss 4.0000 tok/s 12.3k eta 0s");
    expect(out.text()).not.toContain("\r");
  });

  it("also prints when enough time passed, and flushes the last update on done()", () => {
    const out = fakeStream();
    let t = 0;
    const p = createProgress({ total: 1000, stream: out, everySteps: 500, everySeconds: 10, now: () => t });
    p.update(1);
    t = 5_000;
    p.update(2, { lr: 0.0003, phase: "warmup" });
    t = 11_000;
    p.update(3);
    t = 12_000;
    p.update(4);
    p.log("eval loss 3.2");
    p.done();
    expect(
      out
        .text()
        .split("\n")
        .map((l) => l.split(" eta")[0]),
    ).toEqual(["   1/1000", "   3/1000", "eval loss 3.2", "   4/1000", ""]);
  });

  it("shows extra fields with their keys", () => {
    const out = fakeStream();
    const p = createProgress({ total: 2, stream: out, now: () => 0 });
    p.update(1, { lr: 0.0003, phase: "warmup", skipped: undefined });
    expect(out.text()).toBe("1/2 lr 3e-4 phase warmup eta ?\n");
  });
});

describe("createProgress (TTY)", () => {
  it("redraws one line with a bar and ETA, and keeps logged lines above it", () => {
    const out = fakeStream(true);
    let t = 0;
    const p = createProgress({ total: 10, stream: out, now: () => t });
    p.update(1, { loss: 2 });
    t = 1000;
    p.update(5, { loss: 1.5 });
    p.log("saved checkpoint");
    p.done();
    expect(out.chunks).toEqual([
      "\r\x1b[2K[##------------------]  1/10 loss 2.0000 eta ?",
      "\r\x1b[2K[##########----------]  5/10 loss 1.5000 eta 1s",
      "\r\x1b[2K",
      "saved checkpoint\n",
      "\r\x1b[2K[##########----------]  5/10 loss 1.5000 eta 1s",
      "\n",
    ]);
  });
});
