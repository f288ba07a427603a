import { describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { trace } from "../../dsl/traceFunction.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { isFused, type FusedEqn } from "../../ir/graph.ts";
import type { Backend } from "../../ir/backend.ts";
import { LOWRANK_TAIL } from "../../ir/fusedKinds.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { fuseChains } from "../../passes/chain.ts";
import { lowerFused } from "../../run/lower.ts";
import { saveNothing } from "../../passes/remat.ts";
import type { Plan } from "../../passes/plan.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { ALL_CHAINS, claimingChains, fusedNodes, nativeOrSkip } from "./targets.ts";

/**
 * Chains longer than one link: `C·silu(B·silu(A·x))` with small middle widths r1, r2. Each matmul
 * belongs to one fused node, claimed from the input side: (A, B) is a lowrank node, C a lowrankTail
 * `silu(y)·C` on its y. Without links the chain planned as 3 kernels (one fused: A, B; then silu and
 * the product with C loose), and in training as 1 + 2 forward and 1 + 4 backward (dsilu, the gating
 * product, dX and dA of the first link loose).
 */
const [n, d, r1, r2, o] = [dim("n", 5), dim("d", 8), dim("r1", 3), dim("r2", 2), dim("o", 6)];
type P = { A: Tensor; B: Tensor; C: Tensor; D?: Tensor; E?: Tensor; x: Tensor };
const link = (h: Tensor, w: Tensor) => op.matmul(op.silu(h), w as never);
const two = (p: P) => link(op.matmul(op.silu(op.matmul(p.x, p.A as never)), p.B as never), p.C);
const params = { A: spec([d, r1]), B: spec([r1, r2]), C: spec([r2, o]), x: spec([n, d]) };
const loss = (f: (p: P) => Tensor) => (p: P, w: Tensor) => op.sum(op.mul(f(p), w as never));
const joint = (f: (p: P) => Tensor) => ((p: never, w: Tensor) => valueAndGrad(loss(f))(p, w)) as never;

const native = await nativeOrSkip();
const targets: [string, Backend<any>][] = [
  ["reference (fused nodes by parts)", claimingChains(referenceBackend())],
  ...(native ? [["native", native] as [string, Backend<any>]] : []),
];

const kinds = (plan: Plan, phase: "forward" | "backward") =>
  plan.launches
    .filter((l) => isFused(l.eqn) && (l.eqn.meta.phase ?? "forward") === phase)
    .map((l) => (l.eqn as FusedEqn).params.kind);
const outputsOf = (plan: Plan, phase: "forward" | "backward") =>
  plan.launches
    .filter((l) => isFused(l.eqn) && l.eqn.meta.phase === phase)
    .map((l) => [...(l.eqn as FusedEqn).params.outputNames].sort());
/** Launches of the chain's own math left outside fused nodes: products and (derivatives of) activations. */
const loose = (plan: Plan) =>
  plan.launches
    .filter((l) => !isFused(l.eqn) && ["matmul", "silu", "dsilu"].includes(l.eqn.prim))
    .map((l) => l.eqn.prim);

describe.each(targets)("a two-link chain C·silu(B·silu(A·x)) on %s", (_, backend) => {
  it("plans its forward into exactly 2 fused kernels: lowrank (A, B), then lowrankTail silu(y)·C", () => {
    const plan = unwrap(compile(two, { args: [params] as const, backend })).plan;
    expect(plan.kernelCount).toBe(2);
    expect(kinds(plan, "forward")).toEqual(["lowrank", LOWRANK_TAIL]);
    const [first, tail] = plan.launches.map((l) => l.eqn as FusedEqn);
    expect(tail!.inputs[0]).toBe(first!.out); // the tail's x is the first link's y
    expect(tail!.params).toMatchObject({ act: "silu", r: r2.size, epilogue: "none" });
  });

  it("in training, forward 2 fused and backward 2 fused: one backward node per forward node", () => {
    const plan = unwrap(compile(joint(two), { args: [params, spec([n, o])] as const, backend })).plan;
    // the loss's ⊙ w folds into the tail as a gating epilogue; the tail also saves h = silu(y) for dC
    expect(kinds(plan, "forward")).toEqual(["lowrank", LOWRANK_TAIL]);
    // 2 backward kernels: the tail's backward (dY·Cᵀ ⊙ silu'(y) = ∂y, and dC = hᵀ·dY) and then the first
    // link's, from that ∂y (dX, dA, dB); dY·Cᵀ, dZ·Bᵀ and dZ·Aᵀ are each in exactly one of them
    expect(kinds(plan, "backward")).toEqual(["lowrankBackward", "lowrankBackward"]);
    expect(outputsOf(plan, "backward")).toEqual([
      ["dB", "dZ"],
      ["dA", "dB", "dX"],
    ]);
    expect(loose(plan)).toEqual([]); // every product and activation of the chain runs inside a fused kernel
    expect(plan.fusedCount).toBe(4);
    const plain = unwrap(compile(joint(two), { args: [params, spec([n, o])] as const, backend, fusion: false })).plan;
    // unfused, the same math is 13 kernels: forward 3 products and 2 silu, backward 6 products and 2 silu'
    expect(loose(plain)).toHaveLength(13);
  });

  it("stays fused when the backward recomputes the forward (saveNothing)", () => {
    const plan = unwrap(
      compile(joint(two), { args: [params, spec([n, o])] as const, backend, remat: saveNothing }),
    ).plan;
    expect(kinds(plan, "forward")).toEqual(["lowrank", LOWRANK_TAIL]);
    // backward: the recomputed first link (a lowrank node), then the same 2 backward nodes
    expect(kinds(plan, "backward")).toEqual(["lowrank", "lowrankBackward", "lowrankBackward"]);
    // what stays loose is the recomputed h = silu(y) that dC = hᵀ·dY reads: no product follows it to fuse with
    expect(loose(plan)).toEqual(["silu"]);
  });
});

describe("the chain pass on longer chains", () => {
  const r3 = dim("r3", 2);
  const r4 = dim("r4", 3);
  const three = (p: P) => link(two(p), p.D!);
  const four = (p: P) => link(three(p), p.E!);
  const threeParams = { ...params, C: spec([r2, r3]), D: spec([r3, o]) };
  const fourParams = { ...threeParams, D: spec([r3, r4]), E: spec([r4, o]) };
  const graphOf = (f: (p: P) => Tensor, ps: object) => unwrap(trace(joint(f), [ps, spec([n, o])] as never)).graph;
  const byPhase = (g: ReturnType<typeof fuseChains>) => ({
    forward: fusedNodes(g)
      .filter((e) => e.meta.phase !== "backward")
      .map((e) => e.params.kind),
    backward: fusedNodes(g)
      .filter((e) => e.meta.phase === "backward")
      .map((e) => [...e.params.outputNames].sort().join(" ")),
  });

  it("is pure, and lowering gives back exactly the equations it started from", () => {
    const g = graphOf(two, params);
    const before = g.toString();
    const fused = fuseChains(g, ALL_CHAINS);
    expect(g.toString()).toBe(before);
    expect(fusedNodes(fused)).toHaveLength(4);
    expect(new Set(lowerFused(fused).eqns)).toEqual(new Set(g.eqns));
  });

  it("pairs four matmuls from the input side: (A, B) and (C, D), the silu between them alone", () => {
    // a tail σ(y)·C would take C's product from the (C, D) link: pairs keep both rank blocks in the kernel
    const fused = fuseChains(graphOf(three, threeParams), ALL_CHAINS);
    expect(byPhase(fused)).toEqual({ forward: ["lowrank", "lowrank"], backward: ["dA dB dX", "dA dB dX"] });
  });

  it("fuses five matmuls as (A, B), (C, D) and a tail silu(y)·E, mirrored in backward", () => {
    const fused = fuseChains(graphOf(four, fourParams), ALL_CHAINS);
    expect(byPhase(fused)).toEqual({
      forward: ["lowrank", "lowrank", LOWRANK_TAIL],
      backward: ["dB dZ", "dA dB dX", "dA dB dX"],
    });
  });

  it("follows the rank cap: each link fuses only where its middle width fits", () => {
    const g = graphOf(two, params);
    // r1 = 3 > 2: (A, B) stays unfused, and B's product is free for the link (B, C), rank r2 = 2
    const capped = fuseChains(g, { ...ALL_CHAINS, maxRank: r2.size });
    expect(byPhase(capped)).toEqual({ forward: ["lowrank"], backward: ["dA dB dX"] });
    expect(fusedNodes(capped)[0]!.inputs.map((v) => v.shape)).toContainEqual([r1.size, r2.size]); // its A is B
    expect(fusedNodes(fuseChains(g, { ...ALL_CHAINS, maxRank: r2.size - 1 }))).toHaveLength(0);
    // widths 2 then 3 under a cap of 2: (A, B) fuses, the tail's x (width 3) does not fit
    const g2 = graphOf(two, { ...params, A: spec([d, r2]), B: spec([r2, r4]), C: spec([r4, o]) });
    expect(byPhase(fuseChains(g2, { ...ALL_CHAINS, maxRank: r2.size }))).toEqual({
      forward: ["lowrank"],
      backward: ["dA dB dX"],
    });
  });

  it("follows the target's kinds: without lowrankTail, C's product stays alone, the backward still mirrors", () => {
    const kindsBut = new Set([...ALL_CHAINS.kinds].filter((k) => k !== LOWRANK_TAIL));
    const fused = fuseChains(graphOf(two, params), { ...ALL_CHAINS, kinds: kindsBut });
    expect(byPhase(fused)).toEqual({ forward: ["lowrank"], backward: ["dB dZ", "dA dB dX"] });
  });
});
