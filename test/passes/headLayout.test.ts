import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import type { Backend } from "../../ir/backend.ts";
import { ATTENTION, ATTENTION_BWD, CHAIN_KINDS, FUSED_KINDS, ROPE_HEADS } from "../../ir/fusedKinds.ts";
import { isFused, type Graph, type Node } from "../../ir/graph.ts";
import { spec } from "../../dsl/spec.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { compile } from "../../run/compile.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { planTrainStep } from "../../train/step.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { runs } from "../helpers/runs.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { fusedNodes, withCaps, capsWith } from "./targets.ts";

/**
 * Layout planning (passes/headLayout.ts): the head split/merge transposes around fused attention are
 * gone, rope and the q scale run as one ropeHeads launch, and every result is the plain graph's.
 */
const nativeReq = await backendRequirement("native");
const native = nativeReq.skip ? null : nativeReq.get();
const webgpuReq = await backendRequirement("webgpu");
const webgpu = webgpuReq.skip ? null : webgpuReq.get();

const without = (kinds: Iterable<string>) => [...kinds].filter((k) => k !== ROPE_HEADS);
/** The same backend without the head layout: the plan keeps its transposes. */
const noLayout = <B>(be: Backend<B>) => withCaps(be, { fusedKinds: new Set(without(be.caps.fusedKinds ?? [])) });
/** Claims the chain kinds (and ropeHeads) with no fused kernel of its own: every fused node runs by parts. */
const byParts = <B>(be: Backend<B>, layout = true) =>
  withCaps(
    { ...be, prepareFused: undefined },
    { fusedChains: true, fusedKinds: new Set([...CHAIN_KINDS, ...(layout ? [ROPE_HEADS] : [])]) },
  );

const launches = (g: Graph<Node>, what: string) =>
  g.eqns.filter((e) => (isFused(e) ? e.params.kind === what : e.prim === what)).length;

describe("head layout: kernel counts of a tiny training step (the spec)", () => {
  const cfg = unwrap(resolveConfig("tiny", {}));
  it.each([
    ["full", 4],
    ["cola", 4],
  ])("%s (%i layers): 32 transposes and 16 ropes + 8 scale muls become 16 ropeHeads launches", (method, layers) => {
    const m = unwrap(makeModel(method, cfg));
    const before = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith(without(FUSED_KINDS)) }));
    const after = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith(FUSED_KINDS) }));
    // per layer: forward q, k, v split + O merge, backward dO split + dQ, dK, dV merge
    expect([launches(before.graph, "transpose"), launches(after.graph, "transpose")]).toEqual([8 * layers, 0]);
    // per layer: rope on q and k forward, their inverses backward
    expect([launches(before.graph, "rope"), launches(after.graph, "rope")]).toEqual([4 * layers, 0]);
    expect([launches(before.graph, ROPE_HEADS), launches(after.graph, ROPE_HEADS)]).toEqual([0, 4 * layers]);
    // the q scale forward and dQ's backward fold into ropeHeads
    expect(before.kernelCount - after.kernelCount).toBe(8 * layers + 2 * layers);
    const attention = fusedNodes(after.graph).filter(
      (f) => f.params.kind === ATTENTION || f.params.kind === ATTENTION_BWD,
    );
    expect(attention.map((f) => f.params.layout)).toEqual(Array(2 * layers).fill("bthd"));
  });

  it("colaM (remat recomputes q, k, v in backward): no transposes left either", () => {
    const m = unwrap(makeModel("colaM", cfg));
    const after = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith(FUSED_KINDS) }));
    expect(launches(after.graph, "transpose")).toBe(0);
    expect(launches(after.graph, "rope")).toBe(0);
  });

  it("a target without ropeHeads (webgpu's caps) keeps the old plan", () => {
    const m = unwrap(makeModel("full", cfg));
    const p = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith([ATTENTION, ATTENTION_BWD]) }));
    expect(launches(p.graph, "transpose")).toBe(32);
    expect(fusedNodes(p.graph).every((f) => f.params.layout === undefined)).toBe(true);
    if (webgpu) expect(webgpu.caps.fusedKinds?.has(ROPE_HEADS)).toBe(false);
  });
});

describe("head layout: a tiny training step with and without the pass", () => {
  it.each(["full", "cola", "colaM"])("%s on the float64 reference, fused nodes by parts: identical", async (method) => {
    const ref = referenceBackend();
    const a = await tinyTrainStep(method, byParts(ref));
    const b = await tinyTrainStep(method, byParts(ref, false));
    expect(a.kernels).toBeLessThan(b.kernels);
    expect(a.loss).toBe(b.loss);
    a.grads.forEach((g, i) => expect(g).toEqual(b.grads[i]));
  });

  it.skipIf(!native).each(["full", "cola", "colaM"])(
    "%s on native: the same loss and gradients, bit for bit",
    async (method) => {
      const a = await tinyTrainStep(method, native!);
      const b = await tinyTrainStep(method, noLayout(native!));
      expect(b.kernels - a.kernels).toBe(method === "colaM" ? 30 : 20); // 2 layers
      expect(a.loss).toBe(b.loss);
      a.grads.forEach((g, i) => expect(g).toEqual(b.grads[i]));
    },
  );

  it.skipIf(!webgpu)("full on webgpu, the layout's nodes by parts: the same loss and gradients", async () => {
    const a = await tinyTrainStep("full", byParts(webgpu!));
    const b = await tinyTrainStep("full", withCaps(webgpu!, { fusedChains: false }));
    expect(a.loss).toBe(b.loss);
    a.grads.forEach((g, i) => expect(g).toEqual(b.grads[i]));
  });
});

/** sum(merge(attention(rope(q)·s, rope(k), v)) ⊙ w) over x = [b, t, h·dh] projections, and its gradients. */
async function headsStep(backend: Backend<any>, c: { b: number; h: number; t: number; dh: number; seed: number }) {
  const [B, H, T, D, HD] = [dim("b", c.b), dim("h", c.h), dim("t", c.t), dim("dh", c.dh), dim("d", c.h * c.dh)];
  const s = spec([B, T, HD]);
  const split = (y: Tensor) => op.transpose(op.reshape(y, [B, T, H, D]), [0, 2, 1, 3]);
  type QKV = { q: Tensor; k: Tensor; v: Tensor };
  const loss = (p: QKV, w: Tensor) => {
    // q, k and v before the scores, as a model traces them (the attention matcher's order)
    const q = op.mul(op.rope(split(p.q)), 1 / Math.sqrt(c.dh));
    const k = op.rope(split(p.k));
    const v = split(p.v);
    const att = op.matmul(op.softmax(op.matmulNT(q, k), true), v as never);
    return op.sum(op.mul(op.reshape(op.transpose(att, [0, 2, 1, 3]), [B, T, HD]), w as never));
  };
  const compiled = unwrap(
    compile(((p: never, w: Tensor) => valueAndGrad(loss)(p, w)) as never, {
      args: [{ q: s, k: s, v: s }, s] as const,
      backend,
    }),
  );
  const n = c.b * c.t * c.h * c.dh;
  const rng = Rng.fromSeed(c.seed);
  const draw = () => {
    const a = Float32Array.from({ length: n }, () => rng.normal());
    return backend.caps.float64 ? Float64Array.from(a) : a;
  };
  const p = { q: draw(), k: draw(), v: draw() };
  const { out } = unwrap(await compiled.run(p as never, draw() as never)) as unknown as {
    out: [ArrayLike<number>, Record<string, ArrayLike<number>>];
  };
  return {
    transposes: launches(compiled.graph, "transpose"),
    values: [Array.from(out[0]), ...["q", "k", "v"].map((k) => Array.from(out[1][k]!))],
  };
}

describe("head layout ≡ plain graph over random b, t, h, dh", () => {
  const shapes = fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 3 }),
    t: fc.integer({ min: 1, max: 70 }),
    dh: fc.constantFrom(2, 4, 6, 8, 16),
    seed: fc.nat({ max: 1e6 }),
  });

  it("reference, by parts: identical to the plain graph", async () => {
    const ref = referenceBackend();
    await fc.assert(
      fc.asyncProperty(shapes, async (c) => {
        const laid = await headsStep(byParts(ref), c);
        const plain = await headsStep(ref, c);
        // q, k, v, dO split, O, dQ, dK, dV merged: in the plain graph, or inside the fused bodies by parts
        expect([laid.transposes, plain.transposes]).toEqual([0, 8]);
        expect(laid.values).toEqual(plain.values);
      }),
      { numRuns: runs(10) },
    );
  });

  it.skipIf(!native)("native: no transposes, bit for bit the unlaid plan, close to float64", async () => {
    const ref = referenceBackend();
    await fc.assert(
      fc.asyncProperty(shapes, async (c) => {
        const laid = await headsStep(native!, c);
        const plain = await headsStep(noLayout(native!), c);
        const want = await headsStep(ref, c);
        expect([laid.transposes, plain.transposes]).toEqual([0, 8]);
        expect(laid.values).toEqual(plain.values);
        laid.values.forEach((v, i) => expect(allcloseViolation(v, want.values[i]!, 1e-4, 1e-5), `${i}`).toBeNull());
      }),
      { numRuns: runs(25) },
    );
  });
});
