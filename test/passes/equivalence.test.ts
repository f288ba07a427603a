import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { colaLinear, type Activation } from "../../models/layers.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
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

function program(c: Case) {
  const dOut = c.epilogue === "residual" ? c.dIn : c.dOut;
  const lead = c.lead.map((s, i) => dim(`n${i}`, s));
  const [d, r] = [dim("d", c.dIn), dim("r", c.r)];
  const o = c.epilogue === "residual" ? d : dim("o", dOut);
  const layer = (p: { A: Tensor; B: Tensor; x: Tensor; e: Tensor }) => {
    const y = colaLinear(p.x as never, p as never, ACTS[c.act]) as Tensor;
    return c.epilogue === "residual" ? op.add(p.x, y as never) : c.epilogue === "gate" ? op.mul(y, p.e as never) : y;
  };
  // the loss weights every output differently, so each gradient entry is tested
  const loss = (p: { A: Tensor; B: Tensor; x: Tensor; e: Tensor }, w: Tensor) => op.sum(op.mul(layer(p), w as never));
  const args = [
    { A: spec([d, r]), B: spec([r, o]), x: spec([...lead, d] as Dim[]), e: spec([...lead, o] as Dim[]) },
    spec([...lead, o] as Dim[]),
  ] as const;
  const n = c.lead.reduce((a, b) => a * b, 1);
  const rng = Rng.fromSeed(c.seed);
  const draw = (k: number) => Float32Array.from({ length: k }, () => rng.normal());
  const p = { A: draw(c.dIn * c.r), B: draw(c.r * dOut), x: draw(n * c.dIn), e: draw(n * dOut) };
  return { layer, loss, args, p, w: draw(n * dOut) };
}

type Out = { value: number[]; grads: Float32Array[] };
async function run(c: Case, backend: Backend<any>, fusion: boolean): Promise<Out & { fused: number }> {
  const { loss, args, p, w } = program(c);
  const f = ((q: never, wt: Tensor) => valueAndGrad(loss)(q, wt)) as never;
  const compiled = unwrap(compile(f, { args, backend, fusion }));
  const cast = (a: Float32Array) => (backend.caps.float64 ? Float64Array.from(a) : a);
  const host = { A: cast(p.A), B: cast(p.B), x: cast(p.x), e: cast(p.e) };
  const { out } = unwrap(await compiled.run(host as never, cast(w) as never)) as unknown as {
    out: [ArrayLike<number>, Record<string, ArrayLike<number>>];
  };
  const g = out[1];
  return {
    value: [out[0][0]!],
    grads: ["A", "B", "x", "e"].map((k) => Float32Array.from(g[k]!)),
    fused: compiled.plan.fusedCount,
  };
}

const expectClose = (got: Out, want: Out, rtol: number, atol: number) => {
  expect(allcloseViolation(got.value, want.value, rtol, atol), "loss").toBeNull();
  got.grads.forEach((g, i) => expect(allcloseViolation(g, want.grads[i]!, rtol, atol), `grad ${"ABxe"[i]}`).toBeNull());
};

const native = await nativeOrSkip();
const wasm = await loadBackend("wasm");

describe("fused ≡ unfused, forward and gradients, over random shapes, ranks, activations and epilogues", () => {
  it("on the reference (fused nodes run by parts): the pass rewires nothing", async () => {
    const ref = referenceBackend();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const fused = await run(c, claimingChains(ref), true);
        expect(fused.fused).toBe(2); // the forward chain and the backward chain
        expectClose(fused, await run(c, ref, false), 1e-12, 1e-12);
      }),
      { numRuns: runs(30) },
    );
  });

  it.skipIf(!native)(
    "on native (one fused kernel each way) within float32 tolerance, and against the float64 reference",
    async () => {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const fused = await run(c, native!, true);
          expect(fused.fused).toBe(2);
          expectClose(fused, await run(c, native!, false), 1e-4, 1e-4);
          expectClose(fused, await run(c, referenceBackend(), false), 1e-4, 1e-4);
        }),
        { numRuns: runs(40) },
      );
    },
  );

  it.skipIf(!native)(
    "native fused kernels give identical results run to run (threaded dA/dB partials in fixed order)",
    async () => {
      const c: Case = { lead: [4, 150], dIn: 24, r: 8, dOut: 16, act: "silu", epilogue: "residual", seed: 7 };
      const a = await run(c, native!, true),
        b = await run(c, native!, true);
      a.grads.forEach((g, i) => expect(g).toEqual(b.grads[i]));
    },
  );

  it("on wasm (fused nodes run by parts)", async () => {
    const be = unwrap(wasm as E.Either<never, Backend<any>>);
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const fused = await run(c, claimingChains(be), true);
        expect(fused.fused).toBe(2);
        expectClose(fused, await run(c, be, false), 1e-5, 1e-5);
      }),
      { numRuns: runs(8) },
    );
  });
});
