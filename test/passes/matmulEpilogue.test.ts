import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import { plan } from "../../run/plan.ts";
import { lowerFused } from "../../run/lower.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { isFused, type Graph, type Node } from "../../ir/graph.ts";
import { CHAIN_KINDS, ELEMENTWISE, MATMUL_ADD } from "../../ir/fusedKinds.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { planTrainStep } from "../../train/step.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { fusedNodes, withCaps, capsWith } from "./targets.ts";
import { matmulEpilogueCases, matmulEpilogueProgram } from "./matmulEpilogueCases.ts";

const EPILOGUES = capsWith([MATMUL_ADD]);
const EXACT = { rtol: 0, atol: 0, equalNan: true };
/** The float64 reference claiming `kinds` with no kernel for them: fused nodes run by parts. */
const refClaiming = (kinds: readonly string[]) =>
  withCaps(
    { ...referenceBackend(), prepareFused: undefined },
    { fusedChains: true, fusedKinds: new Set(kinds), maxFusedRank: Infinity },
  );
const kindsOf = (g: Graph<Node>) => fusedNodes(g).map((e) => e.params.kind);

describe("matmul epilogues: the pattern", () => {
  const [n, k, d] = [dim("n", 6), dim("k", 5), dim("d", 4)];

  it("h + x·W is one launch (two without the kind), its body the matmul and the add", () => {
    const f = (h: any, x: any, w: any) => op.add(h, op.matmul(x, w));
    const args = [spec([n, d]), spec([n, k]), spec([k, d])] as const;
    const fused = unwrap(plan(f, { args, caps: EPILOGUES })).plan;
    expect(fused.kernelCount).toBe(1);
    const [node] = fusedNodes(fused.graph);
    expect(node!.params).toMatchObject({ kind: MATMUL_ADD, transA: false, transB: false, inputNames: ["a", "b", "c"] });
    expect(node!.body.eqns.map((e) => e.prim)).toEqual(["matmul", "add"]);
    expect(unwrap(plan(f, { args, caps: capsWith(CHAIN_KINDS) })).plan.kernelCount).toBe(2);
  });

  it("x·W + y·V folds the later product and accumulates onto the earlier one: 2 launches", () => {
    const f = (x: any, w: any, y: any, v: any) => op.add(op.matmul(x, w), op.matmulNT(y, v));
    const args = [spec([n, k]), spec([k, d]), spec([n, k]), spec([d, k])] as const;
    const p = unwrap(plan(f, { args, caps: EPILOGUES })).plan;
    expect(p.kernelCount).toBe(2);
    const [node] = fusedNodes(p.graph);
    expect(node!.params).toMatchObject({ transB: true });
    expect(node!.inputs[2]).toBe(p.graph.eqns[0]!.out); // c is the first product
  });

  it("leaves a product read elsewhere, a broadcast add and a graph-output product alone", () => {
    const args = [spec([n, d]), spec([n, k]), spec([k, d]), spec([d])] as const;
    const twice = (h: any, x: any, w: any) => {
      const y = op.matmul(x, w);
      return op.mul(op.add(h, y), y);
    };
    const bias = (_h: any, x: any, w: any, b: any) => op.add(op.matmul(x, w), b);
    const both = (h: any, x: any, w: any) => {
      const y = op.matmul(x, w);
      return [op.add(h, y), y];
    };
    for (const f of [twice, bias, both])
      expect(kindsOf(unwrap(plan(f as any, { args, caps: EPILOGUES })).plan.graph)).toEqual([]);
  });
});

describe("matmul epilogues: kernel counts of a tiny training step (2 layers)", () => {
  const counts = (method: string, kinds: readonly string[]) => {
    const cfg = unwrap(resolveConfig("tiny", { layers: 2 }));
    const m = unwrap(makeModel(method, cfg));
    const p = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith(kinds) }));
    return { kernels: p.kernelCount, epilogues: kindsOf(p.graph).filter((k) => k === MATMUL_ADD).length, p };
  };
  const ALL = [...CHAIN_KINDS, ELEMENTWISE, MATMUL_ADD];

  it("full: 196 → 192 launches (the 4 residual adds), 10 accumulating matmuls", () => {
    expect(counts("full", [...CHAIN_KINDS, ELEMENTWISE]).kernels).toBe(196);
    const after = counts("full", ALL);
    expect(after.kernels).toBe(192);
    // the other 6 are gradient accumulations an elementwise group would otherwise have summed
    expect(after.epilogues).toBe(10);
    // without elementwise groups each of the 10 adds is a launch saved
    expect(counts("full", CHAIN_KINDS).kernels).toBe(260);
    expect(counts("full", [...CHAIN_KINDS, MATMUL_ADD]).kernels).toBe(250);
  });

  it("cola and colaM: 178 and 233 launches either way (the lowrank chains' epilogues already take their adds)", () => {
    expect(counts("cola", [...CHAIN_KINDS, ELEMENTWISE]).kernels).toBe(178);
    expect(counts("cola", ALL).kernels).toBe(178);
    expect(counts("colaM", [...CHAIN_KINDS, ELEMENTWISE]).kernels).toBe(233);
    expect(counts("colaM", ALL).kernels).toBe(233);
  });

  it("lowering the fused plan gives back the unfused equations", () => {
    const { p } = counts("full", ALL);
    const { p: plain } = counts("full", CHAIN_KINDS);
    const prims = (g: Graph) => g.eqns.map((e) => e.prim).sort();
    expect(prims(lowerFused(p.graph))).toEqual(prims(lowerFused(plain.graph)));
    expect(
      p.launches.every((l) => !isFused(l.eqn) || l.eqn.params.kind !== MATMUL_ADD || l.eqn.body.eqns.length === 2),
    ).toBe(true);
  });
});

describe("matmul epilogues: values on the reference (fused nodes by parts)", () => {
  it("fused ≡ unfused exactly, outputs and gradients, over random shapes, transposes and epilogues", async () => {
    const ref = refClaiming([MATMUL_ADD]);
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(matmulEpilogueCases, async (c) => {
        const { fn, args, inputs } = matmulEpilogueProgram(c);
        const got = await fusedMatchesUnfused(fn as any, args, { backend: ref, tolerance: EXACT })(inputs as any);
        fused += got.actual.plans.forward!.fusedCount;
      }),
      { numRuns: runs(40) },
    );
    expect(fused).toBeGreaterThan(0);
  });

  it("a tiny training step (full, cola, colaM under its remat policy) is identical with and without the pass", async () => {
    const kinds = [...CHAIN_KINDS, ELEMENTWISE];
    for (const method of ["full", "cola", "colaM"]) {
      const on = await tinyTrainStep(method, refClaiming([...kinds, MATMUL_ADD]));
      const off = await tinyTrainStep(method, refClaiming(kinds));
      if (method === "full") expect(on.kernels).toBeLessThan(off.kernels);
      expect(on.loss).toBe(off.loss);
      expect(on.grads).toEqual(off.grads);
    }
  }, 120_000);
});
