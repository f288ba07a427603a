import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BinaryOp, ReduceOp, UnaryOp } from "../../backends/native/build.ts";
import * as act from "../../ir/activations.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { addon, close, f32, indices, native, nit, prod, refMatmul, stridesOf } from "./nativeFixtures.ts";

/**
 * The native engine's kernels against float64 definitions (the GEMM's are in nativeMatmul.test.ts). When
 * the addon cannot be built these tests are skipped with the reason printed, unless
 * RANKFUSE_REQUIRE_NATIVE is set: then "builds and loads" fails with it.
 */
describe("native addon", () => {
  it.skipIf(native.skip)("builds and loads", () => {
    expect(native.get().threads()).toBeGreaterThanOrEqual(1);
    expect(["avx512", "avx2", "generic"]).toContain(addon.gemmKernel());
  });

  nit("rejects bad calls with TypeError / RangeError instead of crashing", () => {
    const fn = addon.matmul as unknown as (...args: unknown[]) => void;
    expect(() => fn(new Float32Array(4))).toThrow(TypeError);
    expect(() => fn([1, 2], new Float32Array(4), new Float32Array(4), 1, 2, 1, 2, false)).toThrow(TypeError);
    expect(() => fn(new Float32Array(4), new Float32Array(4), new Float32Array(4), 1, 2, 2, 2.5, false)).toThrow(
      TypeError,
    );
    expect(() =>
      addon.matmul(new Float32Array(3), new Float32Array(4), new Float32Array(4), 1, 2, 2, 2, false, false, false),
    ).toThrow(RangeError);
    expect(() => addon.unary(99, new Float32Array(2), new Float32Array(2))).toThrow(RangeError);
    expect(() => addon.unary(UnaryOp.exp, new Float32Array(4), new Float32Array(2))).toThrow(RangeError);
    expect(() =>
      addon.transpose(new Float32Array(6), new Float32Array(6), Int32Array.of(2, 3), Int32Array.of(0, 0)),
    ).toThrow(RangeError);
    expect(() =>
      addon.binary(
        BinaryOp.add,
        new Float32Array(2),
        new Float32Array(1),
        new Float32Array(3),
        Int32Array.of(3),
        Int32Array.of(1),
        Int32Array.of(0),
      ),
    ).toThrow(RangeError);
    // 65536^4 = 2^64 elements: a wrapping product would read it as 0 and do nothing instead of refusing
    const huge = Int32Array.of(65536, 65536, 65536, 65536),
      zeros = new Int32Array(4);
    expect(() =>
      addon.binary(BinaryOp.add, new Float32Array(1), new Float32Array(1), new Float32Array(1), huge, zeros, zeros),
    ).toThrow(RangeError);
    expect(() => addon.broadcastTo(new Float32Array(1), new Float32Array(1), huge, zeros)).toThrow(RangeError);
    expect(() => addon.transpose(new Float32Array(1), new Float32Array(1), huge, Int32Array.of(0, 1, 2, 3))).toThrow(
      RangeError,
    );
    expect(() =>
      addon.reduce(ReduceOp.sum, new Float32Array(1), new Float32Array(1), huge, Int32Array.of(1, 1, 1, 1)),
    ).toThrow(RangeError);
  });

  nit("unary ops match the float64 definitions", () => {
    const defs: Array<[keyof typeof UnaryOp, (x: number) => number]> = [
      ["neg", (x) => -x],
      ["exp", Math.exp],
      ["log", Math.log],
      ["sqrt", Math.sqrt],
      ["tanh", Math.tanh],
      ["sigmoid", act.sigmoid],
      ["silu", act.silu],
      ["gelu", act.gelu],
      ["relu", act.relu],
      ["dsilu", act.dsilu],
      ["dgelu", act.dgelu],
      ["drelu", act.drelu],
    ];
    const rng = Rng.fromSeed(11);
    // Spread over magnitudes, plus special points; 40003 elements also exercises the threaded path.
    const x = Float32Array.from({ length: 40003 }, (_, i) =>
      i < 12
        ? [0, -0, 1e-30, -1e-6, 0.55, -0.55, 20, -20, 87, -87, 0.5493, 1][i]!
        : rng.normal() * Math.exp(rng.normal() * 1.5),
    );
    for (const [name, f] of defs) {
      const input =
        name === "log" || name === "sqrt"
          ? x.map(Math.abs)
          : name === "exp"
            ? x.map((v) => Math.max(-80, Math.min(80, v)))
            : x;
      const out = new Float32Array(input.length);
      addon.unary(UnaryOp[name], input, out);
      const want = Array.from(input, f);
      // Equal non-finite values (log 0 = -Infinity) count as close; allclose would compare inf - inf.
      const same = (i: number): boolean => Object.is(out[i], want[i]) || out[i] === want[i];
      expect(
        allcloseViolation(
          out.map((v, i) => (same(i) ? 0 : v)),
          want.map((v, i) => (same(i) ? 0 : v)),
          3e-6,
          1e-7,
        ),
        name,
      ).toBeNull();
    }
    const special = Float32Array.of(NaN, Infinity, -Infinity, 100, -200);
    const out = new Float32Array(5);
    addon.unary(UnaryOp.exp, special, out);
    expect(Array.from(out)).toEqual([NaN, Infinity, 0, Infinity, 0]);
    addon.unary(UnaryOp.tanh, special, out);
    expect(Array.from(out)).toEqual([NaN, 1, -1, 1, -1]);
    addon.unary(UnaryOp.sigmoid, special, out);
    expect(Array.from(out)).toEqual([NaN, 1, 0, 1, 0]);
  });

  const binaryDefs: Array<(a: number, b: number) => number> = [
    (a, b) => a + b,
    (a, b) => a - b,
    (a, b) => a * b,
    (a, b) => a / b,
    Math.max,
    (a, b) => (a === b ? 1 : 0),
  ];
  /** Broadcast inputs of `xShape`, `yShape` (same rank as out, 1 = broadcast) through the native binary op. */
  function checkBinary(op: number, out: number[], xShape: number[], yShape: number[], seed: number): void {
    const round = op === BinaryOp.equal ? (v: number) => Math.round(v) : (v: number) => v;
    const x = f32(prod(xShape), seed).map(round),
      y = f32(prod(yShape), seed + 1).map(round);
    const bstr = (s: number[]): Int32Array => Int32Array.from(stridesOf(s), (st, i) => (s[i] === 1 ? 0 : st));
    const xs = bstr(xShape),
      ys = bstr(yShape);
    const got = new Float32Array(prod(out));
    addon.binary(op, x, y, got, Int32Array.from(out), xs, ys);
    const want: number[] = [];
    for (const idx of indices(out))
      want.push(
        binaryDefs[op]!(x[idx.reduce((o, v, a) => o + v * xs[a]!, 0)]!, y[idx.reduce((o, v, a) => o + v * ys[a]!, 0)]!),
      );
    expect(allcloseViolation(got, want, 1e-6, 1e-7), `op ${op} ${out} ${xShape} ${yShape}`).toBeNull();
  }

  nit("binary ops with broadcasting", () => {
    for (let op = 0; op < 6; op++) {
      checkBinary(op, [300, 130], [300, 130], [300, 130], op); // contiguous, threaded
      checkBinary(op, [300, 130], [300, 130], [1, 130], op); // [n, d] op [d]
      checkBinary(op, [300, 130], [300, 130], [300, 1], op); // [n, d] op [n, 1]
      checkBinary(op, [7, 5], [7, 5], [1, 1], op); // scalar y
      checkBinary(op, [7, 5], [1, 1], [7, 5], op); // scalar x
      checkBinary(op, [], [], [], op);
    }
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 5 }),
        (out, mx, my, op) => {
          const xShape = out.map((d, i) => ((mx >> i) & 1 ? 1 : d)),
            yShape = out.map((d, i) => ((my >> i) & 1 ? 1 : d));
          checkBinary(op, out, xShape, yShape, mx + my);
        },
      ),
      { numRuns: runs(60) },
    );
    const nan = new Float32Array(2);
    addon.binary(
      BinaryOp.maximum,
      Float32Array.of(NaN, 1),
      Float32Array.of(1, NaN),
      nan,
      Int32Array.of(2),
      Int32Array.of(1),
      Int32Array.of(1),
    );
    expect(Array.from(nan)).toEqual([NaN, NaN]);
  });

  function checkReduce(op: number, shape: number[], mask: number[], seed: number): void {
    const x = f32(prod(shape), seed);
    const outShape = shape.filter((_, i) => !mask[i]);
    const got = new Float32Array(prod(outShape));
    addon.reduce(op, x, got, Int32Array.from(shape), Int32Array.from(mask));
    const acc = new Float64Array(got.length).fill(op === ReduceOp.max ? -Infinity : 0);
    const os = stridesOf(outShape);
    let i = 0;
    for (const idx of indices(shape)) {
      const o = idx.filter((_, a) => !mask[a]).reduce((s, v, a) => s + v * os[a]!, 0);
      acc[o] = op === ReduceOp.max ? Math.max(acc[o]!, x[i++]!) : acc[o]! + x[i++]!;
    }
    const count = prod(shape.filter((_, a) => mask[a]));
    const want = op === ReduceOp.mean ? acc.map((v) => v / count) : acc;
    expect(allcloseViolation(got, want, 1e-6, 1e-6), `op ${op} shape ${shape} mask ${mask}`).toBeNull();
  }

  nit("reduce sum / max / mean over axis masks", () => {
    for (let op = 0; op < 3; op++) {
      checkReduce(op, [300, 200], [0, 1], op); // row sums
      checkReduce(op, [300, 200], [1, 0], op); // column sums (gradient reduction), threaded
      checkReduce(op, [40, 30, 50], [1, 1, 0], op);
      checkReduce(op, [6, 50, 7], [0, 1, 0], op);
      checkReduce(op, [4, 1, 9000], [1, 1, 1], op); // everything, threaded
      checkReduce(op, [5, 3], [0, 0], op);
    }
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 0, max: 2 }),
        (shape, m, op) =>
          checkReduce(
            op,
            shape,
            shape.map((_, i) => (m >> i) & 1),
            m,
          ),
      ),
      { numRuns: runs(60) },
    );
  });

  function checkTranspose(shape: number[], perm: number[], seed: number, ints = false): void {
    const n = prod(shape);
    const x = ints ? Int32Array.from({ length: n }, (_, i) => i * 7 - 3) : f32(n, seed);
    const got = ints ? new Int32Array(n) : new Float32Array(n);
    addon.transpose(x, got, Int32Array.from(shape), Int32Array.from(perm));
    const inS = stridesOf(shape),
      outShape = perm.map((p) => shape[p]!);
    const want = Array.from(indices(outShape), (idx) => x[idx.reduce((o, v, k) => o + v * inS[perm[k]!]!, 0)]!);
    expect(Array.from(got), `${shape} ${perm}`).toEqual(want);
  }

  nit("transpose: random permutations, batched 2-D fast path, Int32Array", () => {
    checkTranspose([3, 130, 70], [0, 2, 1], 1);
    checkTranspose([200, 190], [1, 0], 2);
    checkTranspose([5, 33, 2, 40], [2, 3, 0, 1], 3);
    checkTranspose([4, 6, 5], [2, 0, 1], 4, true);
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 })
          .chain((shape) =>
            fc.tuple(
              fc.constant(shape),
              fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }),
            ),
          ),
        ([shape, perm]) => checkTranspose(shape, perm, shape.length),
      ),
      { numRuns: runs(60) },
    );
  });

  nit("broadcastTo", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 4 }), fc.nat(), (out, m) => {
        const xShape = out.map((d, i) => ((m >> i) & 1 ? 1 : d));
        const x = f32(prod(xShape), m);
        const xs = Int32Array.from(stridesOf(xShape), (s, i) => (xShape[i] === 1 ? 0 : s));
        const got = new Float32Array(prod(out));
        addon.broadcastTo(x, got, Int32Array.from(out), xs);
        expect(Array.from(got)).toEqual(
          Array.from(indices(out), (idx) => x[idx.reduce((o, v, a) => o + v * xs[a]!, 0)]!),
        );
      }),
      { numRuns: runs(60) },
    );
  });

  const lse = (row: ArrayLike<number>, n = row.length): number => {
    let m = -Infinity,
      s = 0;
    for (let j = 0; j < n; j++) m = Math.max(m, row[j]!);
    for (let j = 0; j < n; j++) s += Math.exp(row[j]! - m);
    return m + Math.log(s);
  };

  nit("softmax (plain and causal) and logSoftmax", () => {
    for (const [rows, width, causalT] of [
      [1, 1, 0],
      [12, 37, 0],
      [24, 8, 8],
      [300, 130, 0],
      [2 * 130, 130, 130],
      [5, 1000, 0],
    ] as const) {
      const x = f32(rows * width, rows + width, 3);
      const got = new Float32Array(rows * width),
        want = new Float64Array(rows * width),
        lgot = new Float32Array(rows * width),
        lwant = new Float64Array(rows * width);
      addon.softmax(x, got, rows, width, causalT);
      addon.logSoftmax(x, lgot, rows, width);
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * width, (r + 1) * width);
        const live = causalT > 0 ? (r % causalT) + 1 : width;
        const l = lse(row, live),
          lall = lse(row);
        for (let j = 0; j < width; j++) {
          want[r * width + j] = j < live ? Math.exp(row[j]! - l) : 0;
          lwant[r * width + j] = row[j]! - lall;
        }
      }
      close(got, want, 1e-5, 1e-7);
      close(lgot, lwant, 1e-5, 1e-5);
    }
  });

  nit("rmsnorm", () => {
    for (const [rows, width] of [
      [1, 1],
      [7, 33],
      [300, 256],
    ] as const) {
      const x = f32(rows * width, width),
        w = f32(width, 5),
        got = new Float32Array(rows * width);
      addon.rmsnorm(x, w, got, rows, width, 1e-5);
      const want = new Float64Array(rows * width);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let j = 0; j < width; j++) ss += x[r * width + j]! ** 2;
        const inv = 1 / Math.sqrt(ss / width + 1e-5);
        for (let j = 0; j < width; j++) want[r * width + j] = x[r * width + j]! * inv * w[j]!;
      }
      close(got, want, 1e-5, 1e-6);
    }
  });

  nit("rope matches the float64 reference; inverse undoes it", () => {
    for (const [B, T, Dh, base] of [
      [1, 1, 2, 10000],
      [3, 17, 8, 10000],
      [2, 300, 64, 500000],
    ] as const) {
      const rows = B * T,
        x = f32(rows * Dh, T),
        got = new Float32Array(rows * Dh),
        back = new Float32Array(rows * Dh);
      addon.rope(x, got, rows, T, Dh, base, false);
      const half = Dh / 2,
        want = new Float64Array(rows * Dh);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < half; i++) {
          const th = (r % T) * Math.pow(base, (-2 * i) / Dh),
            c = Math.cos(th),
            s = Math.sin(th);
          const x1 = x[r * Dh + i]!,
            x2 = x[r * Dh + i + half]!;
          want[r * Dh + i] = x1 * c - x2 * s;
          want[r * Dh + i + half] = x2 * c + x1 * s;
        }
      close(got, want, 1e-5, 1e-5);
      addon.rope(got, back, rows, T, Dh, base, true);
      close(back, x, 1e-5, 1e-5);
    }
  });

  nit("gather / scatterAdd / oneHot, RangeError on bad ids", () => {
    const V = 50,
      D = 70,
      ids = Int32Array.from({ length: 600 }, (_, i) => (i * 37) % V);
    const table = f32(V * D, 1),
      got = new Float32Array(ids.length * D);
    addon.gather(table, ids, got, V, D);
    ids.forEach((id, i) => expect(got.subarray(i * D, (i + 1) * D)).toEqual(table.subarray(id * D, (id + 1) * D)));
    const values = f32(ids.length * D, 2),
      acc = new Float32Array(V * D),
      want = new Float64Array(V * D);
    addon.scatterAdd(values, ids, acc, V, D);
    ids.forEach((id, i) => {
      for (let j = 0; j < D; j++) want[id * D + j]! += values[i * D + j]!;
    });
    close(acc, want, 1e-5, 1e-5);
    expect(() => addon.gather(table, Int32Array.of(0, V), new Float32Array(2 * D), V, D)).toThrow(
      /id 50 at position 1/,
    );
    expect(() => addon.scatterAdd(values, Int32Array.of(-1), acc, V, D)).toThrow(RangeError);
    const oh = new Float32Array(3 * 4).fill(9);
    addon.oneHot(Int32Array.of(2, 0, 7), oh, 4);
    expect(Array.from(oh)).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  nit("crossEntropy", () => {
    const rows = 40,
      V = 1003,
      logits = f32(rows * V, 3, 4),
      targets = Int32Array.from({ length: rows }, (_, r) => (r * 101) % V);
    const got = new Float32Array(rows);
    addon.crossEntropy(logits, targets, got, rows, V);
    const want = Array.from(
      { length: rows },
      (_, r) => lse(logits.subarray(r * V, (r + 1) * V)) - logits[r * V + targets[r]!]!,
    );
    close(got, want, 1e-5, 1e-5);
    expect(() => addon.crossEntropy(logits, Int32Array.of(V), new Float32Array(1), 1, V)).toThrow(RangeError);
  });

  nit("lowrankForward equals matmul, activation, matmul", () => {
    const acts: Array<[number, (x: number) => number]> = [
      [0, (x) => x],
      [UnaryOp.silu, act.silu],
      [UnaryOp.gelu, act.gelu],
      [UnaryOp.relu, act.relu],
    ];
    for (const [n, dIn, r, dOut] of [
      [1, 1, 1, 1],
      [5, 3, 2, 7],
      [100, 64, 16, 64],
      [300, 300, 64, 130],
      [2048, 256, 64, 256],
    ] as const) {
      const x = f32(n * dIn, n),
        A = f32(dIn * r, r, 1 / Math.sqrt(dIn)),
        B = f32(r * dOut, dOut, 1 / Math.sqrt(r));
      const z = refMatmul(x, A, 1, n, dIn, r, false);
      for (const [code, f] of acts) {
        const got = new Float32Array(n * dOut);
        addon.lowrankForward(x, A, B, got, n, dIn, r, dOut, code);
        const h = new Float32Array(n * r);
        for (let i = 0; i < h.length; i++) h[i] = f(z[i]!);
        const want = refMatmul(h, B, 1, n, r, dOut, false);
        expect(allcloseViolation(got, want, 1e-4, 1e-5), `act ${code} ${n} ${dIn} ${r} ${dOut}`).toBeNull();
      }
    }
    expect(() =>
      addon.lowrankForward(
        new Float32Array(1),
        new Float32Array(1),
        new Float32Array(1),
        new Float32Array(1),
        1,
        1,
        1,
        1,
        4,
      ),
    ).toThrow(RangeError);
  });

  nit("fill and setThreads", () => {
    const out = new Float32Array(50000);
    addon.fill(out, 2.5);
    expect(out.every((v) => v === 2.5)).toBe(true);
    const t = addon.threads();
    addon.setThreads(1);
    expect(addon.threads()).toBe(1);
    addon.setThreads(t);
    expect(() => addon.setThreads(0)).toThrow(RangeError);
  });
});
