import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../../backends/index.ts";
import { makeModel } from "../../methods/index.ts";
import { resolveConfig } from "../../models/config.ts";
import { run } from "../../bench/trainStep.ts";
import { benchState, formatBytes, formatTransfers, paramBytes, transferStats } from "../../bench/training.ts";

const SMALL = { d: 32, dFF: 48, vocab: 29, seq: 8, batch: 2, layers: 2, heads: 2, rank: 8 };

describe("bench/training.ts", () => {
  it("formats per-step transfers in / out, with a range only where steps differ", () => {
    const t = (written: number, read: number) => ({ transfers: { written, read } });
    expect(formatTransfers(transferStats([t(16396, 8), t(16396, 8)]))).toBe("16.4kB in / 8B out");
    expect(formatTransfers(transferStats([t(100, 8), t(300, 8), t(200, 8)]))).toBe("200B [100B-300B] in / 8B out");
    expect(formatBytes(5530624)).toBe("5.53MB");
    expect(paramBytes([new Float32Array(3), new Float32Array(5)])).toBe(32);
  });

  it("starts a state whose steps move only the batch, three scalars in and three scalars out", async () => {
    const cfg = E.getOrElseW(() => {
      throw new Error("config");
    })(resolveConfig("tiny", SMALL));
    const model = E.getOrElseW(() => {
      throw new Error("model");
    })(makeModel("cola", cfg));
    const be = await loadBackend("cpu");
    if (E.isLeft(be)) throw new Error(be.left.message);
    const params = model.init(0);
    const before = params.map((p) => p.slice());
    const made = benchState(model, be.right, params, { batch: cfg.batch, seq: cfg.seq, totalSteps: 2 });
    if (E.isLeft(made)) throw new Error(made.left.message);
    const n = cfg.batch * cfg.seq;
    const ids = Int32Array.from({ length: n }, (_, i) => i % cfg.vocab);
    const r = await made.right.state.step(0, ids, ids);
    made.right.state.dispose();
    if (E.isLeft(r)) throw new Error(r.left.message);
    expect(r.right.transfers).toEqual({ written: 2 * n * 4 + 3 * 4, read: 3 * 4 });
    expect(Number.isFinite(r.right.loss)).toBe(true);
    expect(params).toEqual(before); // the caller's arrays are left alone
  });
});

describe("bench/trainStep.ts", () => {
  it("reports tokens/s, transfers and params bytes per backend, and lists a backend that does not load", async () => {
    const r = await run({ repeats: 1, backends: ["cpu", "no-such-backend"], methods: ["cola"], overrides: SMALL });
    expect(r.headers).toContain("host↔backend bytes/step");
    expect(r.headers).toContain("params bytes");
    const row = r.rows.find((x) => x[1] === "cpu")!;
    expect(row[5]).toBe("140B in / 12B out"); // 2×16 int32 ids and targets + 3 float32 scalars; loss, norm and params check
    expect(String(row[2])).toMatch(/^\d+ \[\d+-\d+\]$/);
    expect(r.rows.find((x) => x[1] === "no-such-backend")?.[2]).toMatch(/skipped/);
    expect(r.notes?.some((n) => n.startsWith("SKIPPED no-such-backend"))).toBe(true);
    const data = r.data as {
      runs: Record<string, { backends: Record<string, { transfersPerStep: { written: number[] } }> }>;
    };
    expect(data.runs["tiny cola"]!.backends.cpu!.transfersPerStep.written).toEqual([140, 140]);
  });
});
