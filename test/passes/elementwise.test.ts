import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim, sizes } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import { trace } from "../../dsl/traceFunction.ts";
import { plan } from "../../run/plan.ts";
import { lowerFused } from "../../run/lower.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { isFused, outsOf, type Graph, type Node, type Var } from "../../ir/graph.ts";
import { CHAIN_KINDS, ELEMENTWISE, ROPE_HEADS } from "../../ir/fusedKinds.ts";
import { fuseElementwise } from "../../passes/elementwiseFusion.ts";
import { ELEMENTWISE_PRIMS } from "../../passes/elementwiseGroups.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { planTrainStep } from "../../train/step.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { fusedNodes, capsWith } from "./targets.ts";
import { claimingElementwise, elementwiseCases, elementwiseProgram } from "./elementwiseCases.ts";

describe("elementwise fusion: kernel counts", () => {
  const [n, d] = [dim("n", 6), dim("d", 5)];
  const args = [spec([n, d]), spec([d]), spec([n, d])] as const;
  const f = (x: any, y: any, z: any) => op.silu(op.add(op.mul(x, y), z));

  it("x*y+z then silu is 1 launch (3 without the kind)", () => {
    const fused = unwrap(plan(f, { args, caps: capsWith([ELEMENTWISE]) })).plan;
    expect(fused.kernelCount).toBe(1);
    expect(fusedNodes(fused.graph)[0]!.body.eqns.map((e) => e.prim)).toEqual(["mul", "add", "silu"]);
    expect(unwrap(plan(f, { args, caps: capsWith(CHAIN_KINDS) })).plan.kernelCount).toBe(3);
  });

  it("a value read outside the group is a second output; a reduction is not fused", () => {
    const g = (x: any, y: any, z: any) => {
      const h = op.mul(x, y);
      const s = op.sum(h, [1]);
      return [op.exp(op.add(h, z)), s];
    };
    const p = unwrap(plan(g, { args, caps: capsWith([ELEMENTWISE]) })).plan;
    expect(p.kernelCount).toBe(2);
    const [node] = fusedNodes(p.graph);
    expect(node!.outs).toHaveLength(2);
  });

  it("never makes a cycle through the rest of the graph", () => {
    // a = x*y; b = a + sum(a) (broadcast): the add reads a through a reduction, so a and b are fused
    // only if the reduction can run between them: it cannot, inside one kernel
    const g = (x: any, y: any) => {
      const a = op.mul(x, y);
      const s = op.sum(a, [1]);
      const b = op.add(op.exp(a), op.reshape(s, [n, dim("one", 1)]) as any);
      return op.tanh(b);
    };
    const traced = unwrap(trace(g, [spec([n, d]), spec([n, d])] as const)).graph;
    const fused = fuseElementwise(traced as Graph<Node>);
    expectTopological(fused);
    expect(new Set(lowerFused(fused).eqns)).toEqual(new Set(traced.eqns));
    const bodies = fusedNodes(fused).map((e) => e.body.eqns.map((b) => b.prim));
    // exp joins mul (the sum reads a, a second output); the add waits for the sum: a group of its own
    expect(bodies).toEqual([
      ["mul", "exp"],
      ["add", "tanh"],
    ]);
  });

  it.each(["full", "cola"])(
    "the tiny %s training step has fewer launches, and no fusable pair left apart",
    (method) => {
      const cfg = unwrap(resolveConfig("tiny", { layers: 2 }));
      const m = unwrap(makeModel(method, cfg));
      const before = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith([...CHAIN_KINDS, ROPE_HEADS]) }));
      // elementwise groups alone (row groups are test/passes/row.test.ts's)
      const after = unwrap(
        planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith([...CHAIN_KINDS, ROPE_HEADS, ELEMENTWISE]) }),
      );
      const groups = after.launches.filter((l) => isFused(l.eqn) && l.eqn.params.kind === ELEMENTWISE);
      const absorbed = groups.reduce((s, l) => s + (l.eqn as { body: Graph }).body.eqns.length, 0);
      expect(groups.length).toBeGreaterThan(10);
      expect(after.kernelCount).toBe(before.kernelCount - absorbed + groups.length);
      expect(after.kernelCount).toBeLessThan(0.8 * before.kernelCount);
      expectTopological(after.graph);
      expectNothingLeftToFuse(after.graph);
    },
  );
});

describe("elementwise fusion: values", () => {
  it("fused ≡ unfused on the reference by parts, outputs and gradients exactly, over random graphs", async () => {
    const ref = claimingElementwise(referenceBackend());
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(elementwiseCases, async (c) => {
        const { fn, args, inputs } = elementwiseProgram(c);
        const got = await fusedMatchesUnfused(fn, args, {
          backend: ref,
          requireFused: false,
          tolerance: { rtol: 0, atol: 0, equalNan: true },
        })(inputs);
        const { forward, vjp } = got.actual.plans;
        expect(forward!.kernelCount).toBeLessThanOrEqual(got.expected.plans.forward!.kernelCount);
        fused += forward!.fusedCount + vjp!.fusedCount;
      }),
      { numRuns: runs(60) },
    );
    expect(fused).toBeGreaterThan(0);
  });
});

/** Every node reads only graph inputs and values defined by nodes before it. */
function expectTopological(g: Graph<Node>): void {
  const defined = new Set<Var>(g.inputs);
  for (const e of g.eqns) {
    for (const v of e.inputs) expect(defined.has(v)).toBe(true);
    outsOf(e).forEach((v) => defined.add(v));
  }
}

/**
 * No unfused elementwise equation sits next to an elementwise node of its shape and phase that it could have
 * joined (or made a group with): where one does, the equation also depends on that node through some
 * other path, so joining would make a cycle.
 */
function expectNothingLeftToFuse(g: Graph<Node>): void {
  const producer = new Map<Var, Node>();
  g.eqns.forEach((e) => outsOf(e).forEach((v) => producer.set(v, e)));
  const key = (v: Var) => sizes(v.abs.dims).join(",");
  const isGroup = (e: Node) => isFused(e) && e.params.kind === ELEMENTWISE;
  const loose = (e: Node) => !isFused(e) && ELEMENTWISE_PRIMS.has(e.prim) && e.out.abs.dtype === "float32";
  const reaches = (from: Var, target: Node, seen = new Set<Node>()): boolean => {
    const p = producer.get(from);
    if (!p || seen.has(p)) return false;
    if (p === target) return true;
    seen.add(p);
    return p.inputs.some((v) => reaches(v, target, seen));
  };
  for (const e of g.eqns) {
    if (!loose(e)) continue;
    for (const v of e.inputs) {
      const p = producer.get(v);
      if (!p || key(v) !== key(e.out) || p.meta.phase !== e.meta.phase) continue; // groups keep to one phase
      if (!isGroup(p) && !(loose(p) && p.inputs.every((u) => u.abs.dtype === "float32"))) continue;
      // e could have joined p's group (or made one with p) unless it also reads p through another path
      const others = e.inputs.filter((u) => producer.get(u) !== p);
      expect(others.some((u) => reaches(u, p))).toBe(true);
    }
  }
}
