import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PRIMS } from "../../ir/prims.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { primCases } from "../helpers/primCases.ts";
import { directionalCheck } from "../helpers/gradcheck.ts";

/** Every primitive's vjp rule against float64 central differences, over random shapes and values. */
describe("gradient check (reference, float64)", () => {
  const backend = referenceBackend();
  it.each(PRIMS)("%s", async (prim) => {
    await fc.assert(
      fc.asyncProperty(primCases[prim], fc.integer({ min: 0, max: 1e6 }), async (c, seed) => {
        const { analytic, numeric } = await directionalCheck(c, backend, seed);
        expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(numeric)));
      }),
      { numRuns: runs(12) },
    );
  });
});
