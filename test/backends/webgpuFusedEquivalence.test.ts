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
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { colaLinear, type Activation } from "../../models/layers.ts";
import { Rng } from "../../util/rng.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { runs } from "../helpers/runs.ts";
import { fusedNodes } from "../passes/targets.ts";
import { ELEMENTWISE } from "../../ir/fusedKinds.ts";

/**
 * The fused WGSL kernels compute what the graph says: for random shapes (token counts across several
 * workgroup tiles, widths across several staged slices), ranks, activations and epilogues, a CoLA
 * layer's loss and gradients on webgpu with fusion equal webgpu without fusion and the float64
 * reference, within float32 tolerance. Few runs: every new shape compiles shaders, slowly on llvmpipe.
 * Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI), which makes that a failure.
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend); // throws, failing the file, where RANKFUSE_REQUIRE_WEBGPU demands it

const ACTS: Record<string, Activation> = { silu: op.silu, gelu: op.gelu, relu: op.relu, identity: (x) => x };

interface Case {
  readonly lead: readonly number[];
  readonly dIn: number;
  readonly r: number;
  readonly dOut: number;
  readonly act: string;
  readonly epilogue: string;
  /** Differentiate x too (the backward chain then computes dX); else x is data (dZ, dA, dB only). */
  readonly gradX: boolean;
  /** Round dIn, r and dOut up to multiples of 4: the kernels' vec4 code path (real configs take it). */
  readonly by4: boolean;
  readonly seed: number;
}

const cases: fc.Arbitrary<Case> = fc.record({
  lead: fc.constantFrom<number[]>([5], [2, 3], [70], [3, 29], [1, 131]),
  dIn: fc.integer({ min: 1, max: 40 }),
  r: fc.integer({ min: 1, max: 20 }),
  dOut: fc.integer({ min: 1, max: 40 }),
  act: fc.constantFrom("silu", "gelu", "relu", "identity"),
  epilogue: fc.constantFrom("none", "residual", "gate"),
  gradX: fc.boolean(),
  by4: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});

const up4 = (k: number) => Math.ceil(k / 4) * 4;

type Out = { value: number; grads: Record<string, Float32Array> };

/** loss = Σ w ⊙ layer(x) with layer = colaLinear (+ x | ⊙ e), all drawn from the seed, scaled to unit size. */
async function run(c0: Case, backend: Backend<any>, fusion: boolean): Promise<Out & { fused: number }> {
  const c = c0.by4 ? { ...c0, dIn: up4(c0.dIn), r: up4(c0.r), dOut: up4(c0.dOut) } : c0;
  const dOut = c.epilogue === "residual" ? c.dIn : c.dOut;
  const lead = c.lead.map((s, i) => dim(`n${i}`, s));
  const [d, r] = [dim("d", c.dIn), dim("r", c.r)];
  const o = c.epilogue === "residual" ? d : dim("o", dOut);
  type P = { A: Tensor; B: Tensor; e: Tensor; x?: Tensor };
  const layer = (p: P, x: Tensor) => {
    const y = colaLinear(x as never, p as never, ACTS[c.act]) as Tensor;
    return c.epilogue === "residual" ? op.add(x, y as never) : c.epilogue === "gate" ? op.mul(y, p.e as never) : y;
  };
  const xs = spec([...lead, d] as Dim[]),
    ws = spec([...lead, o] as Dim[]);
  const params = { A: spec([d, r]), B: spec([r, o]), e: spec([...lead, o] as Dim[]) };
  const n = c.lead.reduce((a, b) => a * b, 1);
  const rng = Rng.fromSeed(c.seed);
  const draw = (k: number, std: number) => Float32Array.from({ length: k }, () => rng.normal(0, std));
  const v = {
    A: draw(c.dIn * c.r, 1 / Math.sqrt(c.dIn)),
    B: draw(c.r * dOut, 1 / Math.sqrt(c.r)),
    e: draw(n * dOut, 1),
    x: draw(n * c.dIn, 1),
    w: draw(n * dOut, 1),
  };
  const cast = (a: Float32Array) => (backend.caps.float64 ? Float64Array.from(a) : a);
  const compiled = c.gradX
    ? unwrap(
        compile(
          ((p: never, w: Tensor) =>
            valueAndGrad((q: P, wt: Tensor) => op.sum(op.mul(layer(q, q.x!), wt as never)))(p, w)) as never,
          { args: [{ ...params, x: xs }, ws] as const, backend, fusion },
        ),
      )
    : unwrap(
        compile(
          ((p: never, x: Tensor, w: Tensor) =>
            valueAndGrad((q: P, xt: Tensor, wt: Tensor) => op.sum(op.mul(layer(q, xt), wt as never)))(
              p,
              x,
              w,
            )) as never,
          { args: [params, xs, ws] as const, backend, fusion },
        ),
      );
  const p = { A: cast(v.A), B: cast(v.B), e: cast(v.e), ...(c.gradX ? { x: cast(v.x) } : {}) };
  const runAny = compiled.run as (...a: unknown[]) => ReturnType<typeof compiled.run>;
  const ran = unwrap(await (c.gradX ? runAny(p, cast(v.w)) : runAny(p, cast(v.x), cast(v.w))));
  const [value, g] = ran.out as unknown as [ArrayLike<number>, Record<string, ArrayLike<number>>];
  const grads = Object.fromEntries(Object.entries(g).map(([k, a]) => [k, Float32Array.from(a)]));
  // chain nodes only: the elementwise groups around them (loss, cotangents, epilogues) vary by case
  const chains = fusedNodes(compiled.plan.graph).filter((e) => e.params.kind !== ELEMENTWISE).length;
  return { value: value[0]!, grads, fused: chains };
}

function expectClose(got: Out, want: Out, what: string) {
  const [rtol, atol] = [2e-4, 2e-4];
  expect(
    allcloseViolation([got.value], [want.value], rtol, atol * Math.max(1, Math.abs(want.value))),
    `${what}: loss`,
  ).toBeNull();
  expect(Object.keys(got.grads).sort(), `${what}: gradients`).toEqual(Object.keys(want.grads).sort());
  for (const [k, g] of Object.entries(got.grads))
    expect(allcloseViolation(g, want.grads[k]!, rtol, atol), `${what}: grad ${k}`).toBeNull();
}

async function check(c: Case) {
  const fused = await run(c, gpu!, true);
  // the forward chain and the backward chain, each on the fused WGSL kernels; without dX or an
  // activation the backward is two lone products (dA, dB), which the chain pass leaves alone
  expect(fused.fused).toBe(c.gradX || c.act !== "identity" ? 2 : 1);
  expectClose(fused, await run(c, gpu!, false), "fused vs unfused webgpu");
  expectClose(fused, await run(c, referenceBackend(), false), "fused webgpu vs float64 reference");
}

describe.skipIf(webgpu.skip)(webgpu.title("webgpu fused kernels ≡ unfused ≡ reference, forward and gradients"), () => {
  it("over random shapes, ranks, activations and epilogues", async () => {
    await fc.assert(fc.asyncProperty(cases, check), { numRuns: runs(10) });
  });

  it.each([false, true])(
    "at a rank with a wide rank block (r = 100: 128-wide tile), many tiles (vec4 path: %s)",
    async (by4) => {
      await check({
        lead: [2, 75],
        dIn: 70,
        r: 100,
        dOut: 90,
        act: "gelu",
        epilogue: "gate",
        gradX: true,
        by4,
        seed: 11,
      });
    },
  );

  it.each([false, true])(
    "without dX (x is data): the backward chain still fuses, computing dZ, dA and dB (vec4 path: %s)",
    async (by4) => {
      await check({ lead: [66], dIn: 17, r: 9, dOut: 33, act: "silu", epilogue: "none", gradX: false, by4, seed: 5 });
    },
  );

  it("a residual CoLA layer at a real config's widths (d 64, r 16: every width a multiple of 4), with its dispatched programs", async () => {
    await check({
      lead: [4, 40],
      dIn: 64,
      r: 16,
      dOut: 64,
      act: "silu",
      epilogue: "residual",
      gradX: true,
      by4: false,
      seed: 3,
    });
    expect(gpu!.fused.compiled().filter((k) => k.endsWith("_vec4")).length).toBeGreaterThanOrEqual(4); // forward, backward, dA, dB
  });
});
