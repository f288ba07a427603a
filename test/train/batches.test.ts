import { describe, it, expect } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { BatchSampler, evalWindows, type Batch, type SamplerOptions } from "../../train/batches.ts";

/** Token i has value i, so a window's position in the stream is readable from its contents. */
const iota = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
const opts: SamplerOptions = { seqLen: 8, batch: 4, seed: 123 };
const must = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message);
  return e.right;
};
const take = (s: BatchSampler, n: number): Batch[] => Array.from({ length: n }, () => s.next());
const rows = (b: Batch, seqLen: number) =>
  Array.from({ length: b.inputs.length / seqLen }, (_, r) => [...b.inputs.subarray(r * seqLen, (r + 1) * seqLen)]);

describe("BatchSampler", () => {
  it("yields targets equal to inputs shifted by one, as contiguous windows", () => {
    const s = new BatchSampler(iota(1000), opts);
    for (const b of take(s, 20)) {
      expect(b.inputs.length).toBe(opts.batch * opts.seqLen);
      for (const row of rows(b, opts.seqLen)) for (let i = 1; i < row.length; i++) expect(row[i]).toBe(row[i - 1] + 1);
      for (let i = 0; i < b.inputs.length; i++) expect(b.targets[i]).toBe(b.inputs[i] + 1);
    }
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const a = take(new BatchSampler(iota(1000), opts), 5);
    expect(take(new BatchSampler(iota(1000), opts), 5)).toEqual(a);
    expect(take(new BatchSampler(iota(1000), { ...opts, seed: 124 }), 5)).not.toEqual(a);
  });

  it("restoring from a JSON state reproduces exactly the same subsequent batches, across epochs", () => {
    const tokens = iota(301); // ~37 windows: several epochs within the test
    const s = new BatchSampler(tokens, opts);
    take(s, 13);
    const state = JSON.parse(JSON.stringify(s.state()));
    const expected = take(s, 40);
    const r = must(BatchSampler.restore(tokens, opts, state));
    expect(take(r, 40)).toEqual(expected);
    expect(s.state().epoch).toBeGreaterThan(state.epoch);
  });

  it("covers every window of an epoch exactly once, with non-overlapping starts", () => {
    const tokens = iota(8 * 50 + 1);
    const s = new BatchSampler(tokens, { seqLen: 8, batch: 1, seed: 1 });
    const starts = [s.next().inputs[0]];
    const offset = starts[0] % 8;
    const windows = Math.floor((tokens.length - 1 - offset) / 8);
    for (let i = 1; i < windows; i++) starts.push(s.next().inputs[0]);
    expect(s.state()).toMatchObject({ epoch: 0, cursor: windows });
    expect(new Set(starts.map((x) => x % 8)).size).toBe(1);
    expect(new Set(starts).size).toBe(windows);
  });

  it("moves window boundaries between epochs", () => {
    const s = new BatchSampler(iota(8 * 20 + 1), { seqLen: 8, batch: 1, seed: 5 });
    const offsets = new Set<number>();
    for (let i = 0; i < 400; i++) offsets.add(s.next().inputs[0] % 8);
    expect(offsets.size).toBeGreaterThan(3);
    expect(s.epochProgress()).toBeGreaterThan(15);
  });

  it("refuses a state from a different seed, seqLen or data, and too-short data", () => {
    const tokens = iota(500);
    const state = new BatchSampler(tokens, opts).state();
    expect(E.isLeft(BatchSampler.restore(tokens, { ...opts, seed: 1 }, state))).toBe(true);
    expect(E.isLeft(BatchSampler.restore(tokens, { ...opts, seqLen: 16 }, state))).toBe(true);
    const other = BatchSampler.restore(iota(499), opts, state);
    expect(E.isLeft(other) && other.left.message).toMatch(/taken on 500 tokens/);
    expect(E.isLeft(BatchSampler.restore(tokens, opts, { ...state, cursor: 10_000 }))).toBe(true);
    const short = BatchSampler.create(iota(8), opts);
    expect(E.isLeft(short) && short.left).toMatchObject({ tag: "DataError" });
    expect(E.isRight(BatchSampler.create(iota(9), opts))).toBe(true);
    expect(() => new BatchSampler(iota(8), opts)).toThrow(RangeError);
  });

  it("allows resuming with a different batch size (the cursor counts windows)", () => {
    const tokens = iota(1000);
    const s = new BatchSampler(tokens, { ...opts, batch: 2 });
    take(s, 3);
    const r = must(BatchSampler.restore(tokens, { ...opts, batch: 1 }, s.state()));
    const next2 = s.next();
    expect([...r.next().inputs, ...r.next().inputs]).toEqual([...next2.inputs]);
  });
});

describe("evalWindows", () => {
  it("gives a fixed list of full batches spread over the whole stream", () => {
    const tokens = iota(8 * 100 + 1);
    const a = must(evalWindows(tokens, 8, 4, 3));
    expect(a.length).toBe(3);
    expect(must(evalWindows(tokens, 8, 4, 3))).toEqual(a);
    const starts = a.flatMap((b) => rows(b, 8).map((r) => r[0]));
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
    expect(starts.at(-1)).toBeGreaterThan(tokens.length * 0.8);
    for (const b of a) for (let i = 0; i < b.inputs.length; i++) expect(b.targets[i]).toBe(b.inputs[i] + 1);
  });

  it("uses all windows (in full batches) when there are fewer than requested", () => {
    const b = must(evalWindows(iota(8 * 10 + 1), 8, 4, 100));
    expect(b.length).toBe(2);
    const err = evalWindows(iota(20), 8, 4, 1);
    expect(E.isLeft(err) && err.left.message).toMatch(/need at least batch \* seqLen \+ 1 = 33/);
  });
});
