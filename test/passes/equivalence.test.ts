import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { colaLinear, type Activation } from "../../models/layers.ts";
import { expectAllclose, type Tolerance } from "../../testing/allclose.ts";
import { fusedMatchesUnfused, matchesReference } from "../../testing/equivalence.ts";
import { evaluate } from "../../testing/evaluate.ts";
import { randomInputs } from "../../testing/inputs.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { claimingChains, nativeOrSkip } from "./targets.ts";

const ACTS: Record<string, Activation> = { silu: op.silu, gelu: op.gelu, relu: op.relu, identity: (x) => x };

/** A CoLA layer with a random activation and epilogue (none, residual x + y, gating y ⊙ e), 2-D or 3-D input. */
const cases = fc.record({
  lead: fc.constantFrom<number[]>([5], [2, 3], [1, 7], [3, 11]),
  dIn: fc.integer({ min: 1, max: 12 }),
  r: fc.integer({ min: 1, max: 6 }),
  dOut: fc.integer({ min: 1, max: 12 }),
  act: fc.constantFrom("silu", "gelu", "relu", "identity"),
  epilogue: fc.constantFrom("none", "residual", "gate"),
  seed: fc.integer({ min: 0, max: 1e6 }),
});
type Case = typeof cases extends fc.Arbitrary<infer C> ? C : never;

/** The layer of a case, its specs, and random inputs; gradients come from the checks' random cotangents. */
function program(c: Case) {
  const dOut = c.epilogue === "residual" ? c.dIn : c.dOut;
  const lead = c.lead.map((s, i) => dim(`n${i}`, s));
  const [d, r] = [dim("d", c.dIn), dim("r", c.r)];
  const o = c.epilogue === "residual" ? d : dim("o", dOut);
  const layer = (p: { A: Tensor; B: Tensor; x: Tensor; e: Tensor }) => {
    const y = colaLinear(p.x as never, p as never, ACTS[c.act]) as Tensor;
    return c.epilogue === "residual" ? op.add(p.x, y as never) : c.epilogue === "gate" ? op.mul(y, p.e as never) : y;
  };
  const args = [
    { A: spec([d, r]), B: spec([r, o]), x: spec([...lead, d] as Dim[]), e: spec([...lead, o] as Dim[]) },
  ] as const;
  return { layer, args, inputs: randomInputs(args, c.seed) };
}

/** Fused ≡ unfused on `backend` for a case; the fused side runs one fused node forward and two in its vjp (forward and backward chain). */
async function fusedEqualsUnfused(c: Case, backend: Backend<any>, tolerance: Tolerance) {
  const { layer, args, inputs } = program(c);
  const got = await fusedMatchesUnfused(layer, args, { backend, tolerance })(inputs);
  expect([got.actual.plans.forward!.fusedCount, got.actual.plans.vjp!.fusedCount]).toEqual([1, 2]);
}

const native = await nativeOrSkip();
const wasm = await loadBackend("wasm");

describe("fused ≡ unfused, forward and gradients, over random shapes, ranks, activations and epilogues", () => {
  it("on the reference (fused nodes run by parts): the pass rewires nothing", async () => {
    const ref = claimingChains(referenceBackend());
    await fc.assert(
      fc.asyncProperty(cases, (c) => fusedEqualsUnfused(c, ref, { rtol: 1e-12, atol: 1e-12 })),
      { numRuns: runs(30) },
    );
  });

  it.skipIf(!native)(
    "on native (one fused kernel each way) within float32 tolerance, and against the float64 reference",
    async () => {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          await fusedEqualsUnfused(c, native!, { rtol: 1e-4, atol: 1e-4 });
          const { layer, args, inputs } = program(c);
          await matchesReference(layer, args, { backend: native!, tolerance: { rtol: 1e-4, atol: 1e-4 } })(inputs);
        }),
        { numRuns: runs(40) },
      );
    },
  );

  it.skipIf(!native)(
    "native fused kernels give identical results run to run (threaded dA/dB partials in fixed order)",
    async () => {
      const c: Case = { lead: [4, 150], dIn: 24, r: 8, dOut: 16, act: "silu", epilogue: "residual", seed: 7 };
      const { layer, args, inputs } = program(c);
      const a = await evaluate(layer, args, inputs, { backend: native!, outputs: false }),
        b = await evaluate(layer, args, inputs, { backend: native!, outputs: false });
      expect(a.plans.vjp!.fusedCount).toBe(2);
      expectAllclose(a.gradients, b.gradients, { rtol: 0, atol: 0 });
    },
  );

  it("on wasm (fused nodes run by parts)", async () => {
    const be = claimingChains(unwrap(wasm as E.Either<never, Backend<any>>));
    await fc.assert(
      fc.asyncProperty(cases, (c) => fusedEqualsUnfused(c, be, { rtol: 1e-5, atol: 1e-5 })),
      { numRuns: runs(8) },
    );
  });
});
