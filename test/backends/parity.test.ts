import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PRIMS } from "../../ir/prims.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { Rng } from "../../util/rng.ts";
import { primCases } from "../helpers/primCases.ts";
import { caseData, compileCase } from "../helpers/gradcheck.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { backendRequirement, type Requirement } from "../helpers/requirements.ts";
import type { Backend } from "../../ir/backend.ts";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { flatten, unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";

/**
 * Every primitive and its gradient on each float32 backend, against the float64 reference, and a whole
 * compiled CoLA decoder block (forward + backward). Backends that need something of the machine are
 * skipped with the reason printed where it is missing: native needs its addon to build (g++ and Node
 * headers), webgpu a WebGPU adapter (here Mesa's llvmpipe through Dawn's OpenGL backend). CI sets
 * RANKFUSE_REQUIRE_NATIVE and RANKFUSE_REQUIRE_WEBGPU, which turn a missing one into a failure.
 */
const optional: Record<string, Requirement<Backend<any>>> = {
  native: await backendRequirement("native"),
  webgpu: await backendRequirement("webgpu"),
};
const skipped = (name: string) => optional[name]?.skip ?? false;
/** The backend; where a required one is missing, the error names the variable that requires it. */
const backendNamed = async (name: string) => optional[name]?.get() ?? unwrap(await loadBackend(name));
const BACKENDS = ["cpu", "wasm", "native", "webgpu"];

describe.each(BACKENDS)("parity: %s vs reference", (name) => {
  const reference = referenceBackend();
  it.skipIf(skipped(name)).each(PRIMS)("%s", async (prim) => {
    const backend = await backendNamed(name);
    await fc.assert(
      fc.asyncProperty(primCases[prim], fc.integer({ min: 0, max: 1e6 }), async (c, seed) => {
        const data = caseData(c, seed);
        const ref = compileCase(c, reference),
          dut = compileCase(c, backend);
        const rng = Rng.fromSeed(seed + 1);
        const w = Float64Array.from({ length: ref.wSize }, () => rng.normal());
        const want = await ref.valueAndGrad(data.floats, data.ints, w);
        const got = await dut.valueAndGrad(data.floats, data.ints, w);
        expect(allcloseViolation([got.value], [want.value])).toBeNull();
        got.grads.forEach((g, i) => expect(allcloseViolation(g, want.grads[i]!), `grad ${i}`).toBeNull());
      }),
      { numRuns: runs(6) },
    );
  });
});

/** One decoder block with CoLA projections (attention, gated MLP, norms, embedding and head around it). */
const blockCfg: ModelConfig = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const blockModel = unwrap(makeModel("cola", blockCfg));

async function blockValueAndGrad(backend: Backend<any>, seed: number) {
  const [b, t] = [dim("b", blockCfg.batch), dim("t", blockCfg.seq)];
  const args = [blockModel.layout.specs, spec([b, t], "int32"), spec([b, t], "int32")] as const;
  const step = unwrap(
    compile((p: unknown, x: Tensor, y: Tensor) => valueAndGrad((q: unknown) => blockModel.loss(q, x, y))(p), {
      args,
      backend,
    }),
  );
  const rng = Rng.fromSeed(seed);
  const params = blockModel
    .init(seed)
    .map((a, i) => (/Norm$/.test(blockModel.layout.names[i]!) ? a.map((v) => v + 0.3 * rng.normal()) : a));
  const host = params.map((a) => (backend.caps.float64 ? Float64Array.from(a) : a)); // both sides see the same float32 point
  const ids = () => Int32Array.from({ length: blockCfg.batch * blockCfg.seq }, () => rng.nextInt(blockCfg.vocab));
  const [value, g] = unwrap(
    await step.run(unflatten(blockModel.layout.def, host) as never, ids() as never, ids() as never),
  ).out as unknown as [ArrayLike<number>, unknown];
  return {
    value: value[0]!,
    grads: flatten(g, (a): a is Float32Array | Float64Array => a instanceof Float32Array || a instanceof Float64Array)
      .leaves,
  };
}

describe.each(BACKENDS)("a compiled CoLA block on %s vs reference", (name) => {
  it.skipIf(skipped(name))("forward and every parameter's gradient agree (float32 tolerance)", async () => {
    const backend = await backendNamed(name);
    for (const seed of [3, 4]) {
      const want = await blockValueAndGrad(referenceBackend(), seed);
      const got = await blockValueAndGrad(backend, seed);
      expect(Math.abs(got.value - want.value)).toBeLessThan(1e-4 * Math.abs(want.value));
      expect(got.grads.length).toBe(blockModel.layout.names.length);
      got.grads.forEach((gi, i) => {
        const wi = want.grads[i]!;
        let num = 0,
          den = 0;
        gi.forEach((x, j) => ((num += (x - wi[j]!) ** 2), (den += wi[j]! ** 2)));
        expect(den, `${blockModel.layout.names[i]} has a gradient signal`).toBeGreaterThan(0);
        expect(Math.sqrt(num / den), blockModel.layout.names[i]).toBeLessThan(1e-3);
      });
    }
  });
});
