import { describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { trace } from "../../dsl/traceFunction.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { isFused, type FusedEqn, type Graph, type Node } from "../../ir/graph.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import type { Backend } from "../../ir/backend.ts";
import { colaLinear } from "../../models/layers.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { compileTrainStep } from "../../train/step.ts";
import { fuseChains } from "../../passes/chain.ts";
import { lowerFused } from "../../run/lower.ts";
import { colaMPolicy as colaM } from "../../methods/colaM/policy.ts";
import type { Plan } from "../../passes/plan.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { ALL_CHAINS, claimingChains, fusedNodes, nativeOrSkip } from "./targets.ts";

const [b, t, d, r, o] = [dim("b", 2), dim("t", 3), dim("d", 8), dim("r", 2), dim("o", 6)];
const layerArgs = [{ A: spec([d, r]), B: spec([r, o]) }, spec([b, t, d])] as const;
type P = { A: Tensor; B: Tensor };
const layer = (p: P, x: Tensor) => colaLinear(x as never, p as never);
const layerLoss = (p: P & { x: Tensor }, w: Tensor) => op.sum(op.mul(layer(p, p.x), w as never));
const gradArgs = [{ A: spec([d, r]), B: spec([r, o]), x: spec([b, t, d]) }, spec([b, t, o])] as const;
const joint = ((p: never, w: Tensor) => valueAndGrad(layerLoss)(p, w)) as never;

const fusing = claimingChains(referenceBackend());
const native = await nativeOrSkip();
const targets: [string, Backend<any>][] = [
  ["reference (fused nodes by parts)", fusing],
  ...(native ? [["native", native] as [string, Backend<any>]] : []),
];

/** The launches that compute a CoLA layer's own math: products, (derivatives of) activations, rank-r gating. */
const layerKernels = (plan: Plan, phase: "forward" | "backward") =>
  plan.launches.filter(
    (l) =>
      (l.eqn.meta.phase ?? "forward") === phase &&
      (isFused(l.eqn) ||
        ["matmul", "silu", "dsilu"].includes(l.eqn.prim) ||
        (l.eqn.prim === "mul" && l.eqn.out.shape.at(-1) === r.size)),
  );

describe.each(targets)("kernel counts on %s", (_, backend) => {
  it("a CoLA layer's forward is 1 kernel", () => {
    const plan = unwrap(compile(layer, { args: layerArgs, backend })).plan;
    expect(plan.kernelCount).toBe(1);
    expect(plan.launches[0]!.eqn.prim).toBe("fused");
  });

  it("with a residual epilogue it is still 1 kernel", () => {
    const sq = dim("d", 8);
    const plan = unwrap(
      compile((p: P, x: Tensor) => op.add(x as never, colaLinear(x as never, p as never) as never), {
        args: [{ A: spec([sq, r]), B: spec([r, sq]) }, spec([b, t, sq])] as const,
        backend,
      }),
    ).plan;
    expect(plan.kernelCount).toBe(1);
  });

  it("in training: forward 1 kernel, backward at most 3 (here 1, computing dX, dA and dB)", () => {
    const plan = unwrap(compile(joint, { args: gradArgs, backend })).plan;
    expect(layerKernels(plan, "forward")).toHaveLength(1);
    const bwd = layerKernels(plan, "backward");
    expect(bwd.length).toBeLessThanOrEqual(3);
    const node = bwd.find((l) => isFused(l.eqn))!.eqn as FusedEqn;
    expect([...node.params.outputNames].sort()).toEqual(["dA", "dB", "dX"]);
    // the same graph unfused: 3 forward kernels and 6 backward (dY·Bᵀ, silu', product, dX, dA, dB)
    const plain = unwrap(compile(joint, { args: gradArgs, backend, fusion: false })).plan;
    expect(plain.fusedCount).toBe(0);
    expect([layerKernels(plain, "forward").length, layerKernels(plain, "backward").length]).toEqual([3, 6]);
  });

  it("under CoLA-M remat the layer stays fused: backward recomputes x·A, then 1 fused kernel", () => {
    const plan = unwrap(compile(joint, { args: gradArgs, backend, remat: colaM })).plan;
    expect(layerKernels(plan, "forward")).toHaveLength(1);
    const bwd = layerKernels(plan, "backward");
    expect(bwd.length).toBeLessThanOrEqual(3);
    expect(bwd.filter((l) => isFused(l.eqn))).toHaveLength(1);
  });
});

describe("the chain pass", () => {
  const g = unwrap(trace(joint, gradArgs)).graph;

  it("is pure, and lowering gives back exactly the equations it started from", () => {
    const before = g.toString();
    const fused = fuseChains(g, ALL_CHAINS);
    expect(g.toString()).toBe(before);
    expect(fusedNodes(fused)).toHaveLength(2);
    expect(new Set(lowerFused(fused).eqns)).toEqual(new Set(g.eqns));
  });

  it("fuses nothing where the rank exceeds the target's largest", () => {
    expect(fusedNodes(fuseChains(g, { ...ALL_CHAINS, maxRank: r.size - 1 }))).toHaveLength(0);
    expect(fusedNodes(fuseChains(g, { ...ALL_CHAINS, maxRank: r.size }))).toHaveLength(2);
  });

  it("follows caps, not names: a backend without fused chains plans every primitive alone", () => {
    expect(unwrap(compile(joint, { args: gradArgs, backend: referenceBackend() })).plan.fusedCount).toBe(0);
  });

  it("prints fused nodes with their parts, FLOPs and bytes", () => {
    const plan = unwrap(compile(joint, { args: gradArgs, backend: fusing })).plan;
    const text = plan.toString();
    expect(text).toMatch(/plan: \d+ kernels \(2 fused\)/);
    // the loss's product with w folds in as a gating epilogue: y ⊙ w is the kernel's output
    expect(text).toMatch(
      /y=%\d+:f32\[b=2, t=3, o=6\] z=%\d+:f32\[b=2, t=3, r=2\] h=%\d+:f32\[b=2, t=3, r=2\] = fused\.lowrank\[act=silu r=2 epilogue=mul\]\(x=%\d+, A=%\d+, B=%\d+, e=%\d+\)  \[432FLOP 688B\]/,
    );
    expect(text).toContain("(one kernel for matmul → silu → matmul → mul)");
    expect(text).toMatch(
      /dX=%\d+:f32\[b=2, t=3, d=8\] dA=%\d+:f32\[d=8, r=2\] dB=%\d+:f32\[r=2, o=6\] = fused\.lowrankBackward\[act=silu r=2\]/,
    );
    expect(plan.graph.toString()).toContain("      | ");
  });

  it("fuses every CoLA projection of a CoLA-LLaMA model, forward and backward, with or without CoLA-M", () => {
    const L = 2;
    const cfg = unwrap(
      resolveConfig("tiny", { d: 8, dFF: 12, vocab: 11, seq: 4, batch: 2, layers: L, heads: 2, rank: 3 }),
    );
    for (const method of ["cola", "colaM"]) {
      const m = unwrap(makeModel(method, cfg));
      const graph: Graph<Node> = unwrap(compileTrainStep(m, fusing, 2, 4)).plan.graph;
      const fused = fusedNodes(graph).filter((n) => n.params.kind.startsWith("lowrank")); // attention is fused too (attention tests)
      expect(fused.filter((n) => n.meta.phase === "forward")).toHaveLength(7 * L);
      expect(fused.filter((n) => n.meta.phase === "backward")).toHaveLength(7 * L);
    }
  });
});
