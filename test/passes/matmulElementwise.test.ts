import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import { plan } from "../../run/plan.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { ELEMENTWISE, MATMUL_ADD, MATMUL_EPILOGUE } from "../../ir/fusedKinds.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { fusedNodes, withCaps, capsWith } from "./targets.ts";
import { matmulElementwiseCases, matmulElementwiseProgram } from "./matmulElementwiseCases.ts";

const EXACT = { rtol: 0, atol: 0, equalNan: true };
/** The float64 reference claiming `kinds` with no kernel for them: fused nodes run by parts. */
const refClaiming = (kinds: readonly string[]) =>
  withCaps(
    { ...referenceBackend(), prepareFused: undefined },
    { fusedChains: true, fusedKinds: new Set(kinds), maxFusedRank: Infinity },
  );

describe("matmul elementwise epilogues: the pattern", () => {
  const [n, k, d] = [dim("n", 6), dim("k", 5), dim("d", 4)];

  it("silu(g) ⊙ x·W is one launch (two without the kind), the product not kept", () => {
    const f = (g: any, x: any, w: any) => op.mul(op.silu(g), op.matmul(x, w));
    const args = [spec([n, d]), spec([n, k]), spec([k, d])] as const;
    const on = unwrap(plan(f, { args, caps: capsWith([ELEMENTWISE, MATMUL_EPILOGUE]) })).plan;
    const off = unwrap(plan(f, { args, caps: capsWith([ELEMENTWISE]) })).plan;
    expect([on.kernelCount, off.kernelCount]).toEqual([1, 2]);
    const [node] = fusedNodes(on.graph);
    expect(node!.params).toMatchObject({ kind: MATMUL_EPILOGUE, inputNames: ["a", "b", "in0"], outputNames: ["out0"] });
    expect(node!.body.eqns.map((e) => e.prim)).toEqual(["matmul", "silu", "mul"]);
  });

  it("outputs the product too where something else reads it, and folds the later of two products", () => {
    const f = (x: any, w: any, v: any) => {
      const [a, b] = [op.matmul(x, w), op.matmul(x, v)];
      return op.add(op.sum(op.mul(a, b)), op.sum(b));
    };
    const args = [spec([n, k]), spec([k, d]), spec([k, d])] as const;
    const g = unwrap(plan(f, { args, caps: capsWith([MATMUL_EPILOGUE]) })).plan.graph;
    const [node] = fusedNodes(g);
    expect(node!.params.outputNames).toEqual(["y", "out0"]);
    expect(node!.body.eqns[0]!.out).toBe(node!.outs[0]);
  });

  it("leaves a product whose other reader leads back into the group, and a group of another shape", () => {
    const cyc = (x: any, w: any) => {
      const y = op.matmul(x, w);
      return op.mul(y, op.broadcastTo(op.sum(y), y.dims));
    };
    const args = [spec([n, k]), spec([k, d])] as const;
    const g = unwrap(plan(cyc, { args, caps: capsWith([MATMUL_EPILOGUE]) })).plan.graph;
    expect(fusedNodes(g).map((e) => e.params.kind)).not.toContain(MATMUL_EPILOGUE);
    const wider = (x: any, w: any, e: any) => op.mul(op.matmul(x, w), e);
    const args2 = [spec([n, k]), spec([k, dim("one", 1)]), spec([n, d])] as const;
    const g2 = unwrap(plan(wider, { args: args2, caps: capsWith([MATMUL_EPILOGUE]) })).plan.graph;
    expect(fusedNodes(g2)).toHaveLength(0);
  });

  it("fused ≡ unfused, bit for bit on the reference by parts, over random shapes, transposes and epilogues", async () => {
    const be = refClaiming([ELEMENTWISE, MATMUL_ADD, MATMUL_EPILOGUE]);
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(matmulElementwiseCases, async (c) => {
        const { fn, args, inputs } = matmulElementwiseProgram(c);
        const got = await fusedMatchesUnfused(fn as any, args, { backend: be, tolerance: EXACT })(inputs as any);
        fused += fusedNodes(got.actual.plans.forward!.graph).filter((e) => e.params.kind === MATMUL_EPILOGUE).length;
      }),
      { numRuns: runs(40) },
    );
    expect(fused).toBeGreaterThan(0);
  });

  it("a tiny training step by parts on the reference: the same loss and gradients with and without the kind", async () => {
    const kinds = [ELEMENTWISE, MATMUL_ADD];
    for (const method of ["full", "colaM"]) {
      const on = await tinyTrainStep(method, refClaiming([...kinds, MATMUL_EPILOGUE]));
      const off = await tinyTrainStep(method, refClaiming(kinds));
      expect(on.loss).toBe(off.loss);
      on.grads.forEach((g, i) => expect(g).toEqual(off.grads[i]!));
    }
  }, 120_000);
});
