import { describe, it, expect } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../../ir/backend.ts";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { compile } from "../../run/compile.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { wasmBackend } from "../../backends/wasm/backend.ts";
import { layoutOf, normal, param } from "../../models/params.ts";
import type { ModelConfig } from "../../models/config.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { AdamMoments } from "../../train/adamMoments.ts";
import { ADAM_DEFAULTS, updateStep, updateStepSpecs, type StepRoles } from "../../train/updateStep.ts";
import { TrainState } from "../../train/trainState.ts";
import { elementCount } from "../../train/params.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { TextbookAdamW } from "../helpers/textbookAdamw.ts";
import { backendRequirement } from "../helpers/requirements.ts";

const native = await backendRequirement("native");

/**
 * A toy model whose gradients are well conditioned: loss = Σᵢ ½·sᵢ·‖pᵢ − qᵢ‖² over three trainable
 * params (a matrix and a rank-3 tensor, which decay, and a vector, which does not) and their frozen
 * targets qᵢ, so ∇pᵢ = sᵢ·(pᵢ − qᵢ). The start is at least 0.5 from the target in every entry, so no
 * gradient entry nears 0 within the steps taken (Adam moves each entry about lr per step): float32
 * backends can be held to float32 rounding, not to the noise of near-zero gradients.
 */
const SHAPES = [[4, 3], [3], [2, 2, 2]] as const;
const SCALES = [1, 3, 0.5];
const [BATCH, SEQ] = [1, 2];

function toyModel(): TrainableModel {
  const decls = SHAPES.map((s, i) =>
    param(
      s.map((n, k) => dim(`p${i}_${k}`, n)),
      normal(1),
    ),
  );
  const layout = layoutOf([...decls, ...decls]);
  const loss = (params: unknown): Tensor<readonly []> => {
    const p = params as Tensor[];
    const terms = SHAPES.map((_, i) => {
      const d = op.sub(p[i]!, p[i + SHAPES.length]!);
      return op.mul(op.sum(op.mul(d, d)), 0.5 * SCALES[i]!);
    });
    return terms.reduce((a, b) => op.add(a, b)) as Tensor<readonly []>;
  };
  return {
    method: "toy",
    config: {} as ModelConfig,
    layout,
    init: (seed: number) => {
      const rng = Rng.fromSeed(seed);
      const q = SHAPES.map((s) => Float32Array.from({ length: elementCount(s) }, () => rng.normal()));
      const p = q.map((a) => a.map((x) => x + (rng.nextFloat() < 0.5 ? -1 : 1) * (0.5 + rng.nextFloat())));
      return [...p, ...q];
    },
    loss: (params) => loss(params),
    logits: () => {
      throw new Error("the toy model has no logits");
    },
    counts: { embedding: 0, nonEmbedding: 0, total: 0 },
    forwardFlopsPerToken: 0,
    frozen: [false, false, false, true, true, true],
  };
}

const model = toyModel();
const N = SHAPES.length;
const ids = new Int32Array(BATCH * SEQ);
/** The toy loss's gradient, in float64. */
const gradsOf = (p: readonly ArrayLike<number>[], q: readonly ArrayLike<number>[]) =>
  p.map((pi, i) => Float64Array.from(pi, (x, j) => SCALES[i]! * (x - q[i]![j]!)));
const lossOf = (p: readonly ArrayLike<number>[], q: readonly ArrayLike<number>[]) =>
  p.reduce((s, pi, i) => s + 0.5 * SCALES[i]! * Array.from(pi).reduce((a, x, j) => a + (x - q[i]![j]!) ** 2, 0), 0);
const normOf = (g: readonly Float64Array[]) => Math.sqrt(g.reduce((s, gi) => s + gi.reduce((a, x) => a + x * x, 0), 0));

describe("AdamW's textbook oracle", () => {
  it("matches a hand-computed two-step example (decayed matrix, undecayed vector)", () => {
    // lr 0.1, wd 0.1, default betas/eps. Matrix [1x1] p=1, grads 0.5 then -1:
    //  t=1: p=1·0.99=0.99; m=0.05, v=0.00025; m̂=0.5, v̂=0.25 → p = 0.99 − 0.1·0.5/0.5 = 0.89
    //  t=2: p=0.89·0.99=0.8811; m=−0.055, v=0.00124975; m̂=−0.28947, v̂=0.62519 → p ≈ 0.9177104
    // Vector [1] p=−2 (no decay), grads 0.25, 0.25: each step moves by lr·1 → −2.1, −2.2.
    const opt = new TextbookAdamW([[1, 1], [1]], { weightDecay: 0.1 });
    const params = [Float64Array.of(1), Float64Array.of(-2)];
    opt.step(params, [[0.5], [0.25]], 0.1);
    expect(params[0]![0]).toBeCloseTo(0.89, 7); // ε moves it by 2e-9
    expect(params[1]![0]).toBeCloseTo(-2.1, 7);
    opt.step(params, [[-1], [0.25]], 0.1);
    expect(params[0]![0]).toBeCloseTo(0.9177104, 6);
    expect(params[1]![0]).toBeCloseTo(-2.2, 7);
    expect(opt.t).toBe(2);
    expect(opt.m[0]![0]).toBeCloseTo(-0.055, 12);
    expect(opt.v[0]![0]).toBeCloseTo(0.00124975, 12);
  });

  it("clips by the global norm: min(1, clip/(‖g‖ + 1e-6)) on every gradient", () => {
    // ‖(3, 4)‖ = 5, clip 1: g becomes (0.6, 0.8)·5/(5 + 1e-6); the first step moves each entry by lr·sign
    const opt = new TextbookAdamW([[2]], { clip: 1 });
    const p = [Float64Array.of(0, 0)];
    expect(opt.step(p, [[3, 4]], 0.1)).toBe(5);
    const s = 1 / (5 + 1e-6);
    expect(opt.m[0]![0]).toBeCloseTo(0.1 * 3 * s, 15);
    expect(opt.v[0]![1]).toBeCloseTo(0.001 * (4 * s) ** 2, 15);
  });
});

/** One step of the update graph, run with host data: what it returns, in the library's order. */
type Outputs = [Float64Array, Float64Array, Float64Array[], Float64Array[], Float64Array[], Float64Array[]];

function compileStep(backend: Backend<any>, roles: StepRoles, clip: number) {
  const c = unwrap(
    compile(updateStep(model, roles, { ...ADAM_DEFAULTS, clip }), {
      args: updateStepSpecs(model, roles, BATCH, SEQ),
      backend,
    }),
  );
  return async (
    tr: Float64Array[],
    fr: Float64Array[],
    m: Float64Array[],
    v: Float64Array[],
    lr: number,
    wd: number,
    t: number,
  ) => {
    const { beta1, beta2 } = ADAM_DEFAULTS;
    const scalar = (x: number) => Float64Array.of(x);
    const run = c.run as (...args: unknown[]) => ReturnType<typeof c.run>;
    const r = await run(
      ...[
        tr,
        fr,
        m,
        v,
        scalar(1 - lr * wd),
        scalar(lr / (1 - beta1 ** t)),
        scalar(Math.sqrt(1 - beta2 ** t)),
        ids,
        ids,
      ],
    );
    return unwrap(r).out as unknown as Outputs;
  };
}

/** |a − b| ≤ tol·(1 + |b|) everywhere, as a readable failure. */
const expectClose = (got: ArrayLike<number>[], want: ArrayLike<number>[], tol: number, what: string) =>
  expect(
    allcloseViolation(
      got.map((a) => Array.from(a)),
      want.map((a) => Array.from(a)),
      tol,
      tol,
    ),
    what,
  ).toBeNull();

describe("the update step on the reference backend (float64)", () => {
  const backend = referenceBackend();
  const roles: StepRoles = { frozen: model.frozen!, skip: model.frozen!, hostGrad: model.frozen!.map(() => false) };
  const [LR, WD] = [0.02, 0.1];

  // the first norm is about 3.4: clip 2 clips every step, clip 0 and clip 100 never do
  it.each([0, 2, 100])("equals the float64 textbook AdamW over six steps, clip %s", async (clip) => {
    const init = model.init(1).map((a) => Float64Array.from(a));
    const q = init.slice(N);
    let p: Float64Array[] = init.slice(0, N);
    let m: Float64Array[] = SHAPES.map((s) => new Float64Array(elementCount(s)));
    let v: Float64Array[] = m.map((a) => a.slice());
    const step = compileStep(backend, roles, clip);
    const ref = new TextbookAdamW(SHAPES, { weightDecay: WD, clip });
    const want = p.map((a) => a.slice());
    let clipped = 0;
    for (let t = 1; t <= 6; t++) {
      const lr = LR * (1 + 0.25 * Math.sin(t)); // a schedule: the lr differs every step
      const g = gradsOf(want, q);
      const [loss, norm, p1, m1, v1, hostGrads] = await step(p, q, m, v, lr, WD, t);
      expect(loss[0]).toBeCloseTo(lossOf(want, q), 10);
      const refNorm = ref.step(want, g, lr);
      if (clip > 0 && refNorm + 1e-6 > clip) clipped++;
      expect(Math.abs(norm[0]! - refNorm) / refNorm).toBeLessThan(1e-14);
      expect([p1.length, m1.length, v1.length, hostGrads.length]).toEqual([N, N, N, 0]);
      [p, m, v] = [p1, m1, v1];
      expectClose(p, want, 1e-12, `params after step ${t}`);
      expectClose(m, ref.m, 1e-12, `m after step ${t}`);
      expectClose(v, ref.v, 1e-12, `v after step ${t}`);
    }
    expect(clipped).toBe(clip === 2 ? 6 : 0);
    // the run did move the params (the comparison is not of two unchanged starts)
    expect(Math.abs(p[0]![0]! - init[0]![0]!)).toBeGreaterThan(0.05);
  });

  it("a skipped param keeps its value and moments; its clipped gradient goes to the host when asked", async () => {
    const skipRoles: StepRoles = {
      frozen: model.frozen!,
      skip: [false, true, false, true, true, true],
      hostGrad: [false, true, false, false, false, false],
    };
    const init = model.init(2).map((a) => Float64Array.from(a));
    const [p, q] = [init.slice(0, N), init.slice(N)];
    const zeros = () => SHAPES.map((s) => new Float64Array(elementCount(s)));
    const clip = 1;
    const [, norm, p1, m1, v1, hostGrads] = await compileStep(backend, skipRoles, clip)(
      p,
      q,
      zeros(),
      zeros(),
      LR,
      WD,
      1,
    );
    const ref = new TextbookAdamW(SHAPES, { weightDecay: WD, clip });
    const want = p.map((a) => a.slice());
    const g = gradsOf(want, q);
    const refNorm = ref.step(want, g, LR, [false, true, false]);
    expect(norm[0]).toBeCloseTo(refNorm, 12); // the skipped param's gradient counts in the norm
    expect([p1.length, m1.length, v1.length, hostGrads.length]).toEqual([2, 2, 2, 1]);
    expectClose(p1, [want[0]!, want[2]!], 1e-12, "updated params");
    expectClose(m1, [ref.m[0]!, ref.m[2]!], 1e-12, "their m");
    expectClose(v1, [ref.v[0]!, ref.v[2]!], 1e-12, "their v");
    const scale = Math.min(1, clip / (refNorm + 1e-6));
    expect(scale).toBeLessThan(1);
    expectClose(hostGrads, [g[1]!.map((x) => x * scale)], 1e-12, "the host's clipped gradient");
  });
});

/**
 * The same through TrainState: the lr from its schedule, float32 scalars in, float32 params and moments
 * out. Both backends are held to float32 rounding (a few ulps per step), the reference because the
 * state's scalars and read-back are float32, native because it computes in float32.
 */
async function trainStateAgainstTextbook(backend: Backend<any>, tol: number) {
  const o = { lr: 0.05, warmupSteps: 2, minLrRatio: 0.1, weightDecay: 0.1, clip: 2, batch: BATCH, seq: SEQ };
  const STEPS = 6;
  const init = model.init(3);
  const state = unwrap(TrainState.create(model, backend, { ...o, totalSteps: STEPS, seed: 0 }, { params: init }));
  const q = init.slice(N).map((a) => Float64Array.from(a));
  const want = init.slice(0, N).map((a) => Float64Array.from(a));
  const ref = new TextbookAdamW(SHAPES, { weightDecay: o.weightDecay, clip: o.clip });
  const lrs: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const lr = state.lr(step);
    lrs.push(lr);
    const loss = lossOf(want, q);
    const norm = ref.step(want, gradsOf(want, q), lr);
    const r = unwrap(await state.step(step, ids, ids));
    expect(r.lr).toBe(lr);
    expect(Math.abs(r.loss - loss) / loss, `loss at step ${step}`).toBeLessThan(tol);
    expect(Math.abs(r.gradNorm - norm) / norm, `grad norm at step ${step}`).toBeLessThan(tol);
  }
  // warmup then cosine: the steps did use different learning rates (the peak is reached once)
  expect(lrs[0]).toBeLessThan(lrs[1]!);
  expect(new Set(lrs).size).toBeGreaterThanOrEqual(STEPS - 1);
  expect(lrs.at(-1)).toBeLessThan(o.lr / 2);
  const host = await state.read();
  expect(host.adam.step).toBe(STEPS);
  expectClose(host.params.slice(0, N), want, tol, "params");
  expectClose(host.adam.m.slice(0, N), ref.m, tol, "m");
  expectClose(host.adam.v.slice(0, N), ref.v, tol, "v");
  // frozen params: unchanged, and no moments
  host.params.slice(N).forEach((a, i) => expect(a).toEqual(init[N + i]));
  host.adam.m.slice(N).forEach((a) => expect(a.every((x) => x === 0)).toBe(true));
  expect(Math.abs(host.params[0]![0]! - init[0]![0]!)).toBeGreaterThan(0.05);
  state.dispose();
}

describe("TrainState's step against the textbook AdamW", () => {
  it("on the reference backend", async () => {
    await trainStateAgainstTextbook(referenceBackend(), 1e-6);
  });
  it.skipIf(native.skip)("on the native backend", async () => {
    await trainStateAgainstTextbook(native.get(), 1e-6);
  });

  // the reference computes in float64 but keeps the state in float32, as a checkpoint does
  it.each(["reference", "wasm"])("on %s, continues identically after read() → create from that state", async (name) => {
    const backend = name === "reference" ? referenceBackend() : await wasmBackend();
    const o = {
      lr: 0.05,
      warmupSteps: 1,
      minLrRatio: 0.1,
      weightDecay: 0.1,
      clip: 2,
      batch: BATCH,
      seq: SEQ,
      totalSteps: 6,
      seed: 0,
    };
    const a = unwrap(TrainState.create(model, backend, o, { params: model.init(4) }));
    for (let s = 0; s < 3; s++) unwrap(await a.step(s, ids, ids));
    const saved = await a.read();
    const b = unwrap(TrainState.create(model, backend, o, saved));
    expect(b.updates).toBe(3);
    for (let s = 3; s < 6; s++) {
      const [ra, rb] = [unwrap(await a.step(s, ids, ids)), unwrap(await b.step(s, ids, ids))];
      expect(rb.loss).toBe(ra.loss);
    }
    const [ha, hb] = [await a.read(), await b.read()];
    expect(hb).toEqual(ha);
    expect(hb.params[0]).not.toEqual(saved.params[0]);
  });
});

describe("AdamMoments", () => {
  it("refuses to restore a state that does not fit the model", () => {
    const st = AdamMoments.zeros([[2, 2]]).state();
    const r = AdamMoments.restore([[2, 3]], st);
    expect(E.isLeft(r) && r.left.message).toMatch(/param 0 has 6 elements, its moments have 4 and 4/);
    const count = AdamMoments.restore([[2, 2], [1]], st);
    expect(E.isLeft(count) && count.left.message).toMatch(/it has 1 moment tensors, the model has 2 params/);
    const step = AdamMoments.restore([[2, 2]], { ...st, step: -1 });
    expect(E.isLeft(step) && step.left.message).toMatch(/invalid step -1/);
    expect(E.isLeft(step) && step.left.tag).toBe("CheckpointError");
    expect(E.isRight(AdamMoments.restore([[4]], st))).toBe(true); // sizes, not shapes, must agree
  });

  it("restore copies its input, and state() is a copy, not a view of the live moments", () => {
    const m = [Float32Array.of(1, 2)],
      v = [Float32Array.of(3, 4)];
    const adam = unwrap(AdamMoments.restore([[2]], { step: 7, m, v }));
    m[0]![0] = 9;
    const st = adam.state();
    expect([st.step, [...st.m[0]!], [...st.v[0]!]]).toEqual([7, [1, 2], [3, 4]]);
    adam.resetState([0]);
    expect([...st.m[0]!]).toEqual([1, 2]);
    expect(adam.views().m[0]).toEqual(Float32Array.of(0, 0));
  });

  it("resetState zeroes moments of chosen params, optionally keeping some entries, and keeps the step", () => {
    const shapes = [[2, 2], [3]];
    const adam = unwrap(
      AdamMoments.restore(shapes, {
        step: 1,
        m: [Float32Array.of(1, 2, 3, 4), Float32Array.of(1, 1, 1)],
        v: [Float32Array.of(1, 4, 9, 16), Float32Array.of(1, 1, 1)],
      }),
    );
    adam.resetState([0], (_i, j) => j === 3);
    let st = adam.state();
    expect([...st.m[0]!]).toEqual([0, 0, 0, 4]);
    expect([...st.v[0]!]).toEqual([0, 0, 0, 16]);
    expect(st.m[1]!.every((x) => x !== 0)).toBe(true);
    adam.resetState([1]);
    st = adam.state();
    expect(st.m[1]!.every((x) => x === 0) && st.v[1]!.every((x) => x === 0)).toBe(true);
    expect(st.step).toBe(1);
    expect(() => adam.resetState([2])).toThrow(/no param 2/);
  });

  it("zeros: zero moments of the right sizes at step 0", () => {
    const st = AdamMoments.zeros([[2, 3], [], [4]]).state();
    expect(st.step).toBe(0);
    expect(st.m.map((a) => a.length)).toEqual([6, 1, 4]);
    expect([...st.m, ...st.v].every((a) => a.every((x) => x === 0))).toBe(true);
  });
});
