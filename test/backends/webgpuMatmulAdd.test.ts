import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { MATMUL_ADD, ROW } from "../../ir/fusedKinds.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { randomInputs } from "../../testing/inputs.ts";
import { expectAllclose } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { compile } from "../../run/compile.ts";
import { runs } from "../helpers/runs.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { fusedNodes, noMatmulEpilogues, withCaps } from "../passes/targets.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { countDispatches, type DispatchCounter } from "./dispatchCount.ts";

/**
 * Matmul accumulate epilogues (y = op(a)·op(b) + c) on webgpu, and a tiny training step with the row
 * and matmulAdd kinds against one without them. c is added to the rounded dot product in the matmul's
 * store, so results agree with matmul-then-add to float32 rounding: rtol 1e-5, atol 1e-5; a training
 * step's gradients (row sums in another order) to rtol 1e-4, atol 1e-5.
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend);
const TOL = { rtol: 1e-5, atol: 1e-5 };
const STEP = { rtol: 1e-4, atol: 1e-5 };
/** webgpu without the row and matmulAdd kinds: the plans before they were listed. */
const without = (be: any) =>
  withCaps(be, { fusedKinds: new Set([...(be.caps.fusedKinds ?? [])].filter((k) => k !== ROW && k !== MATMUL_ADD)) });

describe.skipIf(webgpu.skip)(webgpu.title("webgpu matmulAdd and row kinds in training"), () => {
  let counter: DispatchCounter;
  beforeAll(() => void (counter = countDispatches(gpu!.device)));
  afterAll(() => counter.stop());

  // the gradients are transposed products (dA = dY·Bᵀ, dB = Aᵀ·dY) and accumulations of them
  it("matmulAdd ≡ matmul + add over shapes, transposes and batching, outputs and gradients", async () => {
    let nodes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          m: fc.integer({ min: 1, max: 9 }),
          k: fc.integer({ min: 1, max: 9 }),
          n: fc.integer({ min: 1, max: 9 }),
          batch: fc.constantFrom(0, 1, 2),
          sharedB: fc.boolean(),
          seed: fc.nat(1000),
        }),
        async (c) => {
          const [M, K, N, B] = [dim("m", c.m), dim("k", c.k), dim("n", c.n), dim("b", 3)];
          const lead = c.batch ? [B] : [];
          const aShape = [...lead, M, K];
          const bShape = [...(c.sharedB ? [] : lead), K, N];
          const args = [spec(aShape), spec(bShape), spec([...lead, M, N])] as const;
          const fn = (a: any, b: any, y: any) => op.add(op.matmul(a, b), y);
          const { actual } = await fusedMatchesUnfused(fn, args, {
            backend: gpu!,
            requireFused: false,
            tolerance: TOL,
          })(randomInputs(args, c.seed) as any);
          nodes += fusedNodes(actual.plans.forward!.graph).filter((e) => e.params.kind === MATMUL_ADD).length;
        },
      ),
      { numRuns: runs(16) },
    );
    expect(nodes).toBeGreaterThan(0);
  }, 300_000);

  it("a tiny training step agrees with and without the row and matmulAdd kinds, in fewer dispatches", async () => {
    const counts: Record<string, number[]> = {};
    for (const method of ["full", "cola"]) {
      const step = async (be: any) => {
        await tinyTrainStep(method, be); // compiles the pipelines
        const before = counter.count;
        const r = await tinyTrainStep(method, be);
        return { ...r, dispatches: counter.count - before };
      };
      const fused = await step(gpu!);
      const plain = await step(without(gpu!));
      counts[method] = [plain.kernels, fused.kernels, plain.dispatches, fused.dispatches];
      expectAllclose([fused.loss], [plain.loss], STEP);
      expectAllclose(fused.grads, plain.grads, STEP);
    }
    // [kernels before, after, GPU dispatches before, after]
    expect(counts).toEqual({ full: [214, 166, 267, 232], cola: [196, 152, 277, 246] });
  }, 300_000);
});
