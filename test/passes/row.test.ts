import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { plan } from "../../run/plan.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { isFused, type FusedEqn, type Node } from "../../ir/graph.ts";
import type { Backend } from "../../ir/backend.ts";
import { CHAIN_KINDS, ELEMENTWISE, FUSED_KINDS, ROW } from "../../ir/fusedKinds.ts";
import { rowAnchor } from "../../passes/rowGroups.ts";
import { saveAll, saveNothing } from "../../passes/remat.ts";
import { colaMPolicy as colaM } from "../../methods/colaM/policy.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { planTrainStep } from "../../train/step.ts";
import { fusedMatchesUnfused, rematMatchesSaveAll } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { fusedNodes, capsWith } from "./targets.ts";
import { claimingRows, rowCases, rowProgramCase } from "./rowCases.ts";

const EXACT = { rtol: 0, atol: 0, equalNan: true };
const kinds = (g: { eqns: readonly Node[] }) => g.eqns.filter(isFused).map((e) => (e as FusedEqn).params.kind);

describe("row fusion: kernel counts", () => {
  const [n, d] = [dim("n", 6), dim("d", 16)];
  it("residual add then rmsnorm is one kernel with both outputs", () => {
    const f = (x: Tensor, y: Tensor, w: Tensor) => {
      const h = op.add(x as Tensor<any>, y as Tensor<any>);
      return [h, op.rmsnorm(h, w)];
    };
    const args = [spec([n, d]), spec([n, d]), spec([d])] as const;
    const p = unwrap(plan(f, { args, caps: capsWith(FUSED_KINDS) })).plan;
    expect(p.kernelCount).toBe(1);
    expect(kinds(p.graph)).toEqual([ROW]);
    expect(unwrap(plan(f, { args, caps: capsWith([...CHAIN_KINDS, ELEMENTWISE]) })).plan.kernelCount).toBe(2);
  });

  it("a column sum joins the row group that computes its input; a reader of it does not", () => {
    const f = (x: Tensor) => op.sum(op.softmax(x as Tensor<any>), [0]);
    const p = unwrap(plan(f, { args: [spec([n, d])] as const, caps: capsWith(FUSED_KINDS) })).plan;
    expect(p.kernelCount).toBe(1);
    const g = (x: Tensor) => {
      const s = op.sum(op.softmax(x as Tensor<any>), [0]) as Tensor<any>;
      return op.softmax(op.mul(x as Tensor<any>, s));
    };
    // softmax + sum, then the product that reads the sum (never a row member), then its softmax
    expect(unwrap(plan(g, { args: [spec([n, d])] as const, caps: capsWith(FUSED_KINDS) })).plan.kernelCount).toBe(3);
  });

  // the spec, from `inspect --model full|cola --config tiny --fusion on --backend native`: 4 layers;
  // the last figure has every kind (native's): column reductions and oneHot in row groups, matmul
  // accumulate and elementwise epilogues, the head layout
  it.each([
    ["full", 366, 292, 234],
    ["cola", 330, 264, 214],
  ] as const)(
    "the tiny %s training step: %i kernels with elementwise groups, %i with row groups, %i with every fused kind",
    (method, ew, row, all) => {
      const cfg = unwrap(resolveConfig("tiny", {}));
      const m = unwrap(makeModel(method, cfg));
      const before = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith([...CHAIN_KINDS, ELEMENTWISE]) }));
      const after = unwrap(
        planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith([...CHAIN_KINDS, ELEMENTWISE, ROW]) }),
      );
      // with matmul epilogues (accumulate and elementwise: 252 → 244 on full) and the head layout too (native's kinds)
      const every = unwrap(planTrainStep(m, cfg.batch, cfg.seq, { caps: capsWith(FUSED_KINDS) }));
      expect([before.kernelCount, after.kernelCount, every.kernelCount]).toEqual([ew, row, all]);
      // every last-axis reduction runs inside a row kernel (an rmsnorm with no elementwise neighbour stays one kernel)
      const loose = after.graph.eqns.filter((e) => !isFused(e) && e.prim !== "rmsnorm" && rowAnchor(e) !== undefined);
      expect(loose.map((e) => e.prim)).toEqual([]);
      // an rmsnorm backward is one row kernel (x², mean, rsqrt, the four products, mean, dx) and dW's column sum
      const backward = after.graph.eqns.filter(
        (e) => isFused(e) && e.params.kind === ROW && e.body.eqns.filter((b) => b.prim === "mean").length === 2,
      );
      expect(backward).toHaveLength(cfg.layers * 2 + 1);
    },
  );
});

describe("row fusion: values", () => {
  it("fused ≡ unfused on the reference by parts, outputs and gradients exactly, over random row graphs", async () => {
    const ref = claimingRows(referenceBackend());
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(rowCases, async (c) => {
        const { fn, args, inputs } = rowProgramCase(c);
        const got = await fusedMatchesUnfused(fn, args, { backend: ref, requireFused: false, tolerance: EXACT })(
          inputs,
        );
        fused += got.actual.plans.vjp!.fusedCount;
      }),
      { numRuns: runs(40) },
    );
    expect(fused).toBeGreaterThan(0);
  });

  it("fused ≡ unfused on wasm (row groups by parts), exactly", async () => {
    const wasm = await loadBackend("wasm");
    const be = claimingRows(unwrap(wasm as E.Either<never, Backend<any>>));
    await fc.assert(
      fc.asyncProperty(rowCases, async (c) => {
        const { fn, args, inputs } = rowProgramCase(c);
        await fusedMatchesUnfused(fn, args, { backend: be, requireFused: false, tolerance: EXACT })(inputs);
      }),
      { numRuns: runs(10) },
    );
  }, 120_000);

  it.each(["full", "cola"])(
    "%s: gradients with row groups are identical under every remat policy",
    async (method) => {
      const cfg = unwrap(
        resolveConfig("tiny", { d: 16, dFF: 24, vocab: 13, seq: 4, batch: 2, layers: 2, heads: 2, rank: 4 }),
      );
      const m = unwrap(makeModel(method, cfg));
      const [b, t] = [dim("b", cfg.batch), dim("t", cfg.seq)];
      const args = [m.layout.specs, spec([b, t], "int32"), spec([b, t], "int32")] as const;
      const ids = Int32Array.from({ length: 8 }, (_, i) => (i * 5 + 1) % 13);
      const targets = Int32Array.from({ length: 8 }, (_, i) => (i * 3 + 2) % 13);
      const { unflatten } = await import("../../ir/tree.ts");
      const inputs = [unflatten(m.layout.def, m.init(2)), ids, targets] as never;
      const ref = claimingRows(referenceBackend());
      for (const policy of [saveNothing, colaM]) {
        const c = await rematMatchesSaveAll((p: unknown, x: Tensor, y: Tensor) => m.loss(p, x, y), args, policy, {
          backend: ref,
        })(inputs);
        expect(c.actual.plans.vjp!.fusedCount).toBeGreaterThan(0);
      }
      void saveAll;
    },
    120_000,
  );
});
