import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { loadNativeAddon, type NativeAddon } from "../../backends/native/build.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { compileTrainStep } from "../../train/step.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { fusedNodes, nativeOrSkip, noFusedKernels } from "../passes/targets.ts";

/**
 * The native fused attention kernels (attention.cc): the addon against a float64 definition, and the
 * backend's fused nodes against the same graph unfused and against the float64 reference backend.
 */
const native = await nativeOrSkip();
const loaded = loadNativeAddon();
const addon = (E.isRight(loaded) ? loaded.right : undefined) as NativeAddon;
const nit = it.skipIf(!native);

const draw = (n: number, seed: number) => {
  const rng = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
};
const close = (got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what = "") =>
  expect(allcloseViolation(got, want, rtol, atol), what).toBeNull();

/** Causal attention and its backward in float64, one query row at a time. */
function attention64(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dO: Float32Array,
  bh: number,
  T: number,
  dk: number,
  dv: number,
) {
  const O = new Float64Array(bh * T * dv),
    P = new Float64Array(bh * T * T),
    dQ = new Float64Array(bh * T * dk),
    dK = new Float64Array(bh * T * dk),
    dV = new Float64Array(bh * T * dv);
  const dot = (a: Float32Array, i: number, b: Float32Array, j: number, n: number) => {
    let s = 0;
    for (let c = 0; c < n; c++) s += a[i * n + c]! * b[j * n + c]!;
    return s;
  };
  for (let s = 0; s < bh; s++)
    for (let i = s * T; i < (s + 1) * T; i++) {
      const keys = Array.from({ length: i - s * T + 1 }, (_, j) => s * T + j);
      const S = keys.map((j) => dot(q, i, k, j, dk));
      const m = Math.max(...S);
      const e = S.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      const p = e.map((x) => x / z);
      const dP = keys.map((j) => dot(dO, i, v, j, dv));
      const D = p.reduce((a, pj, n) => a + pj * dP[n]!, 0);
      keys.forEach((j, n) => {
        P[i * T + j - s * T] = p[n]!;
        const dS = p[n]! * (dP[n]! - D);
        for (let c = 0; c < dv; c++)
          ((O[i * dv + c] += p[n]! * v[j * dv + c]!), (dV[j * dv + c] += p[n]! * dO[i * dv + c]!));
        for (let c = 0; c < dk; c++) ((dQ[i * dk + c] += dS * k[j * dk + c]!), (dK[j * dk + c] += dS * q[i * dk + c]!));
      });
    }
  return { O, P, dQ, dK, dV };
}

/** One call of each kernel; P saved by the forward and passed to the backward when `savedP`. */
function kernels(bh: number, T: number, dk: number, dv: number, seed: number, savedP = false) {
  const [q, k, v, dO] = [
    draw(bh * T * dk, seed),
    draw(bh * T * dk, seed + 1),
    draw(bh * T * dv, seed + 2),
    draw(bh * T * dv, seed + 3),
  ];
  const sizes = Int32Array.from([bh, T, dk, dv]);
  const O = new Float32Array(bh * T * dv),
    P = new Float32Array(bh * T * T);
  const [dQ, dK, dV] = [new Float32Array(bh * T * dk), new Float32Array(bh * T * dk), new Float32Array(bh * T * dv)];
  addon.attentionForward(q, k, v, O, P, sizes);
  addon.attentionBackward(q, k, v, dO, savedP ? P : new Float32Array(0), dQ, dK, dV, sizes);
  return { inputs: { q, k, v, dO }, got: { O, P, dQ, dK, dV } };
}

describe("native attention kernels against float64", () => {
  // t = 150 spans three 64-row query blocks, the last one partial
  it.skipIf(!native).each([
    [1, 1, 1, 1],
    [3, 7, 5, 2],
    [2, 150, 16, 8],
    [1, 70, 0, 3],
  ])("bh %i, t %i, dk %i, dv %i: O, P, dQ, dK, dV", (bh, T, dk, dv) => {
    const { inputs: x, got } = kernels(bh, T, dk, dv, 11);
    const want = attention64(x.q, x.k, x.v, x.dO, bh, T, dk, dv);
    for (const n of ["O", "P", "dQ", "dK", "dV"] as const) close(got[n], want[n], 1e-4, 1e-5, n);
  });

  nit("the backward reading the forward's P equals the one recomputing it, bit for bit", () => {
    const [a, b] = [kernels(2, 90, 8, 8, 5), kernels(2, 90, 8, 8, 5, true)];
    for (const n of ["dQ", "dK", "dV"] as const) expect(a.got[n]).toEqual(b.got[n]);
  });

  nit("results repeat run to run and at 1 or 3 threads, bit for bit (no atomics, fixed sum order)", () => {
    const threads = addon.threads();
    try {
      const first = kernels(6, 100, 8, 8, 3).got;
      expect(kernels(6, 100, 8, 8, 3).got).toEqual(first);
      for (const t of [1, 3]) {
        addon.setThreads(t);
        expect(kernels(6, 100, 8, 8, 3).got).toEqual(first);
      }
    } finally {
      addon.setThreads(threads);
    }
  });

  nit("a buffer shorter than the sizes say is a RangeError", () => {
    const b = new Float32Array(8);
    expect(() => addon.attentionForward(b, b, b, b, new Float32Array(0), Int32Array.from([1, 3, 3, 3]))).toThrow(
      RangeError,
    );
    expect(() =>
      addon.attentionBackward(b, b, b, b, new Float32Array(3), b, b, b, Int32Array.from([1, 2, 2, 2])),
    ).toThrow(RangeError); // P needs 4
  });
});

/** sum(attention(0.5 q, k, v) ⊙ w) and its gradients, compiled for a backend. */
async function attentionStep(
  backend: Backend<any>,
  fusion: boolean,
  c: { b: number; h: number; t: number; dh: number; seed: number },
) {
  const [B, H, T, D] = [dim("b", c.b), dim("h", c.h), dim("t", c.t), dim("dh", c.dh)];
  const s = spec([B, H, T, D]);
  type QKV = { q: Tensor; k: Tensor; v: Tensor };
  const loss = (p: QKV, w: Tensor) =>
    op.sum(op.mul(op.matmul(op.softmax(op.matmulNT(op.mul(p.q, 0.5), p.k), true), p.v as never), w as never));
  const compiled = unwrap(
    compile(((p: never, w: Tensor) => valueAndGrad(loss)(p, w)) as never, {
      args: [{ q: s, k: s, v: s }, s] as const,
      backend,
      fusion,
    }),
  );
  const n = c.b * c.h * c.t * c.dh;
  const cast = (a: Float32Array) => (backend.caps.float64 ? Float64Array.from(a) : a);
  const p = { q: cast(draw(n, c.seed)), k: cast(draw(n, c.seed + 1)), v: cast(draw(n, c.seed + 2)) };
  const { out } = unwrap(await compiled.run(p as never, cast(draw(n, c.seed + 3)) as never)) as unknown as {
    out: [ArrayLike<number>, Record<string, ArrayLike<number>>];
  };
  return {
    kinds: fusedNodes(compiled.graph)
      .map((f) => f.params.kind)
      .sort(),
    values: [Array.from(out[0]), ...["q", "k", "v"].map((k) => Array.from(out[1][k]!))],
  };
}

describe("native fused attention ≡ unfused ≡ float64 reference", () => {
  nit("loss and gradients over random shapes (b 1-2, h 1-3, t 1-17, dh 1-9), 1 fused kernel each way", async () => {
    const shapes = fc.record({
      b: fc.integer({ min: 1, max: 2 }),
      h: fc.integer({ min: 1, max: 3 }),
      t: fc.integer({ min: 1, max: 17 }),
      dh: fc.integer({ min: 1, max: 9 }),
      seed: fc.nat({ max: 1e6 }),
    });
    await fc.assert(
      fc.asyncProperty(shapes, async (c) => {
        const fused = await attentionStep(native!, true, c);
        expect(fused.kinds).toEqual(["attention", "attentionBackward"]);
        const plain = await attentionStep(native!, false, c);
        const ref = await attentionStep(referenceBackend(), false, c);
        expect(plain.kinds).toEqual([]);
        fused.values.forEach((v, i) => {
          close(v, plain.values[i]!, 1e-4, 1e-5, `unfused ${i}`);
          close(v, ref.values[i]!, 1e-4, 1e-5, `reference ${i}`);
        });
      }),
      { numRuns: runs(25) },
    );
  });
});

describe("whole models on native with and without attention fusion", () => {
  const cfg = unwrap(
    resolveConfig("tiny", { d: 16, dFF: 24, vocab: 13, seq: 9, batch: 2, layers: 2, heads: 2, rank: 4 }),
  );
  async function step(m: LanguageModel, backend: Backend<any>) {
    const ts = unwrap(compileTrainStep(m, backend, 2, 9));
    const ids = Int32Array.from({ length: 18 }, (_, i) => (i * 5 + 1) % m.config.vocab);
    const targets = Int32Array.from({ length: 18 }, (_, i) => (i * 3 + 2) % m.config.vocab);
    const r = unwrap(await ts.run(m.init(3), ids, targets));
    return {
      loss: r.loss,
      grads: r.grads,
      attention: fusedNodes(ts.plan.graph).filter((f) => f.params.kind.startsWith("attention")).length,
    };
  }

  it.skipIf(!native).each(["full", "cola"])(
    "%s LLaMA: the same loss and gradients, and the same bits run to run",
    async (method) => {
      const m = unwrap(makeModel(method, cfg));
      const fused = await step(m, native!);
      const plain = await step(m, noFusedKernels(native!));
      expect([fused.attention, plain.attention]).toEqual([2 * 2, 0]);
      close([fused.loss], [plain.loss], 1e-5, 1e-6, "loss");
      fused.grads.forEach((g, i) => close(g, plain.grads[i]!, 1e-3, 1e-5, `grad ${i}`));
      const again = await step(m, native!);
      expect(again.loss).toBe(fused.loss);
      again.grads.forEach((g, i) => expect(g).toEqual(fused.grads[i]));
    },
  );
});
