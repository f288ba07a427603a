import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { trace } from "../../dsl/traceFunction.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { isFused, type FusedEqn, type Graph, type Node } from "../../ir/graph.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { compileTrainStep } from "../../train/step.ts";
import { fuseChains } from "../../passes/chain.ts";
import { ATTENTION, ATTENTION_BWD } from "../../ir/fusedKinds.ts";
import { saveNothing, savedResiduals } from "../../passes/remat.ts";
import { colaMPolicy as colaM } from "../../methods/colaM/policy.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { randomInputs } from "../../testing/inputs.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { ALL_CHAINS, claimingChains, fusedNodes } from "./targets.ts";

/** Causal attention as models/transformer.ts traces it: q·kᵀ (q already scaled), causal softmax, ·v. */
const attend = (q: Tensor, k: Tensor, v: Tensor) => op.matmul(op.softmax(op.matmulNT(q, k), true), v as never);
type QKV = { q: Tensor; k: Tensor; v: Tensor };
const loss = (p: QKV, w: Tensor) => op.sum(op.mul(attend(op.mul(p.q, 0.5), p.k, p.v), w as never));
const joint = ((p: never, w: Tensor) => valueAndGrad(loss)(p, w)) as never;

const argsOf = (b: number, h: number, t: number, dh: number, dv = dh) => {
  const [B, H, T, D, V] = [dim("b", b), dim("h", h), dim("t", t), dim("dh", dh), dim("dv", dv)];
  return [{ q: spec([B, H, T, D]), k: spec([B, H, T, D]), v: spec([B, H, T, V]) }, spec([B, H, T, V])] as const;
};
const ofKind = (g: Graph<Node>, kind: string) => fusedNodes(g).filter((n) => n.params.kind === kind);
const fusing = claimingChains(referenceBackend());

describe("the attention pass: kernel counts", () => {
  it("attention's forward is 1 fused kernel", () => {
    const plan = unwrap(
      compile((p: QKV) => attend(p.q, p.k, p.v), { args: [argsOf(2, 3, 5, 4)[0]] as const, backend: fusing }),
    ).plan;
    expect(plan.kernelCount).toBe(1);
    const node = plan.launches[0]!.eqn as FusedEqn;
    expect(node.params.kind).toBe(ATTENTION);
    expect(node.params.outputNames).toEqual(["O"]);
  });

  it("in training: 1 forward kernel and 1 backward kernel computing dQ, dK and dV, and P is not saved", () => {
    const args = argsOf(2, 2, 6, 4);
    const plan = unwrap(compile(joint, { args, backend: fusing })).plan;
    const [fwd, bwd] = [ofKind(plan.graph, ATTENTION), ofKind(plan.graph, ATTENTION_BWD)];
    expect(fwd).toHaveLength(1);
    expect(bwd).toHaveLength(1);
    expect(fwd[0]!.params.outputNames).toEqual(["O"]);
    expect(bwd[0]!.params.inputNames).toEqual(["q", "k", "v", "dO"]);
    expect(bwd[0]!.params.outputNames).toEqual(["dQ", "dK", "dV"]);
    // no softmax, score product or softmax-vjp kernel is left outside the two nodes
    expect(
      plan.launches.filter((l) => !isFused(l.eqn) && l.eqn.out.shape.at(-1) === 6 && l.eqn.out.shape.at(-2) === 6),
    ).toHaveLength(0);
    const square = (g: Graph<Node>) => savedResiduals(g).filter((r) => r.shape.at(-1) === 6 && r.shape.at(-2) === 6);
    expect(square(plan.graph)).toHaveLength(0);
    // unfused, the backward reads the saved probabilities
    expect(square(unwrap(compile(joint, { args, backend: fusing, fusion: false })).plan.graph).length).toBeGreaterThan(
      0,
    );
  });

  it("a value something else reads becomes an extra output: returning P makes the node output it", () => {
    const both = (p: QKV) => {
      const P = op.softmax(op.matmulNT(p.q, p.k), true);
      return [op.matmul(P, p.v as never), P];
    };
    const plan = unwrap(compile(both, { args: [argsOf(1, 2, 4, 3)[0]] as const, backend: fusing })).plan;
    expect(plan.kernelCount).toBe(1);
    expect((plan.launches[0]!.eqn as FusedEqn).params.outputNames).toEqual(["O", "P"]);
  });

  it("a non-causal softmax is not this pattern", () => {
    const open = (p: QKV) => op.matmul(op.softmax(op.matmulNT(p.q, p.k), false), p.v as never);
    expect(unwrap(compile(open, { args: [argsOf(1, 1, 4, 3)[0]] as const, backend: fusing })).plan.fusedCount).toBe(0);
  });

  it("is pure: the traced graph is unchanged by it", () => {
    const g = unwrap(trace(joint, argsOf(1, 2, 5, 3))).graph;
    const before = g.toString();
    expect(ofKind(fuseChains(g, ALL_CHAINS), ATTENTION_BWD)).toHaveLength(1);
    expect(g.toString()).toBe(before);
  });
});

describe("the attention pass in whole models", () => {
  const L = 2;
  const cfg = unwrap(
    resolveConfig("tiny", { d: 8, dFF: 12, vocab: 11, seq: 4, batch: 2, layers: L, heads: 2, rank: 3 }),
  );
  const count = (method: string, remat?: typeof colaM) => {
    const m = unwrap(makeModel(method, cfg));
    const g = unwrap(compileTrainStep(remat ? { ...m, remat } : m, fusing, 2, 4)).plan.graph;
    const at = (kind: string, phase: string) => ofKind(g, kind).filter((n) => n.meta.phase === phase).length;
    return { fwd: at(ATTENTION, "forward"), bwd: at(ATTENTION_BWD, "backward"), recomputed: at(ATTENTION, "backward") };
  };

  it.each(["full", "cola"])("%s: every block's attention is 1 forward and 1 backward kernel", (method) => {
    expect(count(method)).toEqual({ fwd: L, bwd: L, recomputed: 0 });
  });

  it("CoLA-M (remat recomputes attention in backward): still 1 backward kernel a block, plus the recomputed forward the o projection reads", () => {
    expect(count("colaM")).toEqual({ fwd: L, bwd: L, recomputed: L });
  });

  it("saveNothing: the same", () => {
    expect(count("full", saveNothing)).toEqual({ fwd: L, bwd: L, recomputed: L });
  });
});

describe("fused ≡ unfused on the reference (fused nodes run by parts, P recomputed in the backward body)", () => {
  it("forward and gradients agree to float64 rounding over random shapes", async () => {
    const shapes = fc.record({
      b: fc.integer({ min: 1, max: 2 }),
      h: fc.integer({ min: 1, max: 3 }),
      t: fc.integer({ min: 1, max: 9 }),
      dh: fc.integer({ min: 1, max: 5 }),
      dv: fc.integer({ min: 1, max: 5 }),
      seed: fc.nat(),
    });
    const layer = (p: QKV) => attend(op.mul(p.q, 0.5), p.k, p.v);
    await fc.assert(
      fc.asyncProperty(shapes, async ({ b, h, t, dh, dv, seed }) => {
        const args = [argsOf(b, h, t, dh, dv)[0]] as const;
        const c = await fusedMatchesUnfused(layer, args, { backend: fusing, tolerance: { rtol: 1e-12, atol: 1e-12 } })(
          randomInputs(args, seed),
        );
        expect([c.actual.plans.forward!.fusedCount, c.actual.plans.vjp!.fusedCount]).toEqual([1, 2]);
      }),
      { numRuns: runs(8) },
    );
  });
});
