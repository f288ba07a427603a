import { runs } from "../helpers/runs.ts";
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { PRIMS, type Prim } from "../../ir/prims.ts";
import { vjpRules, type VjpRule } from "../../dsl/rules/vjpRules.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { primCases } from "../helpers/primCases.ts";
import { directionalCheck } from "../helpers/gradcheck.ts";

/**
 * The gradient checks must be able to fail: breaking any single vjp rule (scaling its cotangents, or
 * giving a gradient where there is none) makes the check of that primitive fail. Primitives without
 * float inputs (literal, oneHot) have no rule that could matter.
 */
const rules = vjpRules as unknown as Record<Prim, VjpRule<Prim>>;
const mutable = PRIMS.filter((p) => p !== "literal" && p !== "oneHot");

function broken(rule: VjpRule<Prim>): VjpRule<Prim> {
  return (ctx) =>
    rule(ctx).map((c, i) =>
      c ? op.mul(c, 1.37) : ctx.inputs[i]!.dtype === "float32" ? op.onesLike(ctx.inputs[i]!) : null,
    );
}

describe("a broken vjp rule is caught", () => {
  const backend = referenceBackend();
  const saved = { ...rules };
  afterEach(() => Object.assign(rules, saved));

  it.each(mutable)("%s", async (prim) => {
    rules[prim] = broken(saved[prim]);
    const caught = await fc.check(
      fc.asyncProperty(primCases[prim], fc.integer({ min: 0, max: 1e6 }), async (c, seed) => {
        const { analytic, numeric } = await directionalCheck(c, backend, seed);
        return Math.abs(analytic - numeric) <= 1e-6 * (1 + Math.abs(numeric));
      }),
      { numRuns: runs(12) },
    );
    expect(caught.failed).toBe(true);
  });
});
