import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import type { Activation } from "../../models/layers.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { claimingChains, nativeOrSkip } from "./targets.ts";

/**
 * Chains of 2 to 5 matmuls with an activation after each but the last, `W₄·σ(W₃·σ(… σ(W₁·x)))`, over
 * random widths, activations, lead shapes and a gating epilogue: fused (pairs from the input side, a
 * tail for an odd last matmul, one backward node per forward node) ≡ unfused, loss and every gradient.
 */
const ACTS: Record<string, Activation> = { silu: op.silu, gelu: op.gelu, relu: op.relu };

const cases = fc.record({
  lead: fc.constantFrom<number[]>([5], [2, 3], [1, 7], [3, 11]),
  widths: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 3, maxLength: 6 }), // dIn, the middles, dOut
  acts: fc.array(fc.constantFrom("silu", "gelu", "relu"), { minLength: 4, maxLength: 4 }),
  gate: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});
type Case = typeof cases extends fc.Arbitrary<infer C> ? C : never;

function program(c: Case) {
  const lead = c.lead.map((s, i) => dim(`n${i}`, s));
  const widths = c.widths.map((w, i) => dim(`w${i}`, w));
  const out = widths.at(-1)!;
  const names = widths.slice(1).map((_, i) => `W${i}`);
  type P = Record<string, Tensor>;
  const chain = (p: P) =>
    names.reduce((h, name, i) => {
      const y = op.matmul(i === 0 ? h : ACTS[c.acts[i - 1]!]!(h), p[name] as never) as Tensor;
      return i === names.length - 1 && c.gate ? op.mul(y, p.e as never) : y;
    }, p.x!);
  const loss = (p: P, w: Tensor) => op.sum(op.mul(chain(p), w as never));
  const params: Record<string, ReturnType<typeof spec>> = {
    x: spec([...lead, widths[0]!] as Dim[]),
    e: spec([...lead, out] as Dim[]),
  };
  names.forEach((name, i) => (params[name] = spec([widths[i]!, widths[i + 1]!])));
  const n = c.lead.reduce((a, b) => a * b, 1);
  const rng = Rng.fromSeed(c.seed);
  const draw = (k: number, std = 1) => Float32Array.from({ length: k }, () => rng.normal(0, std));
  const values: Record<string, Float32Array> = { x: draw(n * widths[0]!.size), e: draw(n * out.size) };
  names.forEach(
    (name, i) => (values[name] = draw(widths[i]!.size * widths[i + 1]!.size, 1 / Math.sqrt(widths[i]!.size))),
  );
  return {
    loss,
    args: [params, spec([...lead, out] as Dim[])] as const,
    values,
    w: draw(n * out.size),
    matmuls: names.length,
  };
}

type Out = { value: number[]; grads: Record<string, Float32Array> };
async function run(c: Case, backend: Backend<any>, fusion: boolean): Promise<Out & { fused: number }> {
  const { loss, args, values, w } = program(c);
  const f = ((q: never, wt: Tensor) => valueAndGrad(loss)(q, wt)) as never;
  const compiled = unwrap(compile(f, { args, backend, fusion }));
  const cast = (a: Float32Array) => (backend.caps.float64 ? Float64Array.from(a) : a);
  const host = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, cast(v)]));
  const { out } = unwrap(await compiled.run(host as never, cast(w) as never)) as unknown as {
    out: [ArrayLike<number>, Record<string, ArrayLike<number>>];
  };
  const grads = Object.fromEntries(Object.entries(out[1]).map(([k, g]) => [k, Float32Array.from(g)]));
  return { value: [out[0][0]!], grads, fused: compiled.plan.fusedCount };
}

const expectClose = (got: Out, want: Out, rtol: number, atol: number) => {
  expect(allcloseViolation(got.value, want.value, rtol, atol), "loss").toBeNull();
  expect(Object.keys(got.grads).sort()).toEqual(Object.keys(want.grads).sort());
  for (const k of Object.keys(want.grads))
    expect(allcloseViolation(got.grads[k]!, want.grads[k]!, rtol, atol), `grad ${k}`).toBeNull();
};

/** One fused node per pair of matmuls from the input side and one for an odd last: ⌈m/2⌉ each way. */
const expectedFused = (c: Case) => 2 * Math.ceil(program(c).matmuls / 2);

const native = await nativeOrSkip();

describe("chains of links: fused ≡ unfused, forward and gradients, over random widths and activations", () => {
  it("on the reference (fused nodes run by parts): the pass rewires nothing", async () => {
    const ref = referenceBackend();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const fused = await run(c, claimingChains(ref), true);
        expect(fused.fused).toBe(expectedFused(c));
        expectClose(fused, await run(c, ref, false), 1e-12, 1e-12);
      }),
      { numRuns: runs(30) },
    );
  });

  it.skipIf(!native)(
    "on native (the lowrank, lowrankTail and lowrankBackward kernels) within float32 tolerance",
    async () => {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const fused = await run(c, native!, true);
          expect(fused.fused).toBe(expectedFused(c));
          expectClose(fused, await run(c, native!, false), 1e-4, 1e-4);
          expectClose(fused, await run(c, referenceBackend(), false), 1e-4, 1e-4);
        }),
        { numRuns: runs(40) },
      );
    },
  );

  it.skipIf(!native)(
    "on native over many row tiles (threads split the rows; dA and dB partials in fixed order)",
    async () => {
      const c: Case = {
        lead: [4, 300],
        widths: [24, 8, 6, 16],
        acts: ["silu", "gelu", "relu", "silu"],
        gate: true,
        seed: 3,
      };
      const fused = await run(c, native!, true);
      expect(fused.fused).toBe(4);
      expectClose(fused, await run(c, referenceBackend(), false), 1e-4, 1e-4);
      const again = await run(c, native!, true);
      for (const k of Object.keys(fused.grads)) expect(again.grads[k]).toEqual(fused.grads[k]);
    },
  );
});
