import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { PRIMS } from "../../dsl/prims.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/registry.ts";
import { Rng } from "../../train/rng.ts";
import { primCases } from "../helpers/primCases.ts";
import { caseData, compileCase } from "../helpers/gradcheck.ts";
import { allcloseViolation } from "../helpers/allclose.ts";

/**
 * Every primitive and its gradient on each float32 backend, against the float64 reference. The native
 * backend needs its addon to build (g++ and Node headers); where it cannot, its suite is skipped with the
 * reason printed, unless RANKFUSE_REQUIRE_NATIVE is set (CI sets it), which makes that a failure.
 */
const native = await loadBackend("native");
const nativeMissing = E.isLeft(native) ? native.left.message : null;
if (nativeMissing && !process.env.RANKFUSE_REQUIRE_NATIVE) console.warn(`parity: skipping the native backend: ${nativeMissing}`);

describe.each(["cpu", "wasm", "native"])("parity: %s vs reference", (name) => {
  const reference = referenceBackend();
  it.skipIf(name === "native" && nativeMissing !== null && !process.env.RANKFUSE_REQUIRE_NATIVE).each(PRIMS)("%s", async (prim) => {
    const loaded = await loadBackend(name);
    if (E.isLeft(loaded)) throw new Error(loaded.left.message);
    const backend = loaded.right;
    await fc.assert(
      fc.asyncProperty(primCases[prim], fc.integer({ min: 0, max: 1e6 }), async (c, seed) => {
        const data = caseData(c, seed);
        const ref = compileCase(c, reference), dut = compileCase(c, backend);
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
