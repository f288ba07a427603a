import { describe, expect } from "vitest";
import fc from "fast-check";
import { runs } from "../helpers/runs.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { addon, close, f32, nit, refMatmul } from "./nativeFixtures.ts";

/** The native GEMM against a float64 product, with every micro-kernel the CPU can run. */
describe("native addon", () => {
  describe.each(["auto", "avx512", "avx2", "generic"])("matmul (%s micro-kernel)", (kernel) => {
    const withKernel = (f: () => void): void => {
      if (!addon.setGemmKernel(kernel)) return; // this CPU lacks it
      try {
        f();
      } finally {
        addon.setGemmKernel("auto");
      }
    };
    const check = (batch: number, M: number, K: number, N: number, shared: boolean, seed: number): void => {
      const a = f32(batch * M * K, seed),
        b = f32((shared ? 1 : batch) * K * N, seed + 1);
      const out = new Float32Array(batch * M * N).fill(NaN);
      addon.matmul(a, b, out, batch, M, K, N, shared, false, false);
      const want = refMatmul(a, b, batch, M, K, N, shared);
      expect(
        allcloseViolation(out, want, 1e-4, 2e-6 * Math.sqrt(K) * 4),
        `${batch}x[${M},${K}]x[${K},${N}] shared=${shared}`,
      ).toBeNull();
    };
    nit("edge sizes", () =>
      withKernel(() => {
        const sizes = [1, 2, 7, 12, 33, 65, 129];
        let seed = 0;
        for (const M of sizes) for (const N of sizes) for (const K of [1, 3, 33, 257]) check(1, M, K, N, false, seed++);
      }),
    );
    nit("transposed operands (op(a) = aᵀ stored K×M, op(b) = bᵀ stored N×K) equal transposing first", () =>
      withKernel(() => {
        const tr = (x: Float32Array, batch: number, R: number, C: number) => {
          const t = new Float32Array(x.length);
          for (let q = 0; q < batch; q++)
            for (let i = 0; i < R; i++)
              for (let j = 0; j < C; j++) t[q * R * C + j * R + i] = x[q * R * C + i * C + j]!;
          return t;
        };
        let seed = 100;
        for (const [batch, M, K, N, shared] of [
          [1, 5, 7, 3, false],
          [1, 300, 260, 70, false],
          [3, 33, 65, 129, false],
          [4, 64, 300, 40, true],
          [1, 2, 9, 1, false],
          [2, 40, 1300, 70, false], // K ≫ M, N: K split across threads, partials summed in order
        ] as const) {
          const a = f32(batch * M * K, seed++),
            b = f32((shared ? 1 : batch) * K * N, seed++);
          const want = refMatmul(a, b, batch, M, K, N, shared);
          for (const [ta, tb] of [
            [true, false],
            [false, true],
            [true, true],
          ] as const) {
            const out = new Float32Array(batch * M * N).fill(NaN);
            addon.matmul(
              ta ? tr(a, batch, M, K) : a,
              tb ? tr(b, shared ? 1 : batch, K, N) : b,
              out,
              batch,
              M,
              K,
              N,
              shared,
              ta,
              tb,
            );
            expect(
              allcloseViolation(out, want, 1e-4, 2e-6 * Math.sqrt(K) * 4),
              `${batch}x[${M},${K}]x[${K},${N}] transA=${ta} transB=${tb}`,
            ).toBeNull();
          }
        }
      }),
    );
    nit("several cache blocks in every dimension, 1 and 3 threads, bitwise the same", () =>
      withKernel(() => {
        const threads = addon.threads();
        const a = f32(400 * 600, 9),
          b = f32(600 * 300, 10);
        const outs = [1, 3].map((t) => {
          addon.setThreads(t);
          try {
            check(1, 400, 600, 300, false, 7);
            check(1, 37, 530, 700, false, 8);
            const out = new Float32Array(400 * 300);
            addon.matmul(a, b, out, 1, 400, 600, 300, false, false, false);
            return out;
          } finally {
            addon.setThreads(threads);
          }
        });
        expect(outs[0]!.every((v, i) => Object.is(v, outs[1]![i]))).toBe(true); // each element: one tile, fixed k order
      }),
    );
    nit("K split across 3 threads (K ≫ M, N): correct, and bitwise the same on every run", () =>
      withKernel(() => {
        const threads = addon.threads();
        addon.setThreads(3);
        try {
          check(1, 30, 2000, 45, false, 11);
          const a = f32(64 * 1800, 12),
            b = f32(1800 * 50, 13);
          const outs = [0, 1, 2].map(() => {
            const out = new Float32Array(64 * 50);
            addon.matmul(a, b, out, 1, 64, 1800, 50, false, true, false);
            return out;
          });
          for (const o of outs.slice(1)) expect(o.every((v, i) => Object.is(v, outs[0]![i]))).toBe(true);
        } finally {
          addon.setThreads(threads);
        }
      }),
    );
    nit("batched, shared b, K = 0, random shapes", () =>
      withKernel(() => {
        check(5, 17, 40, 33, false, 1);
        check(8, 64, 64, 64, false, 2); // many small products: one per thread
        check(4, 30, 20, 50, true, 3);
        check(3, 1, 9, 70, false, 4); // direct path (M = 1)
        check(2, 40, 9, 1, true, 5); // direct path (N = 1)
        const out = new Float32Array(6).fill(7);
        addon.matmul(new Float32Array(0), new Float32Array(0), out, 1, 2, 0, 3, false, false, false);
        expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 90 }),
            fc.integer({ min: 1, max: 300 }),
            fc.integer({ min: 1, max: 90 }),
            fc.boolean(),
            fc.nat(1000),
            (batch, M, K, N, shared, seed) => check(batch, M, K, N, shared, seed),
          ),
          { numRuns: runs(25) },
        );
      }),
    );
  });
});
