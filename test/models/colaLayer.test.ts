import { runs } from "../helpers/runs.ts";
import { describe, it } from "vitest";
import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { colaLinear, linear } from "../../models/layers.ts";
import { checkGrads } from "../../testing/checkGrads.ts";
import { matchesDense } from "../../testing/equivalence.ts";
import { forAllInputs, inputsFor } from "../../testing/arbitraries.ts";
import { inPrecision } from "../../testing/inputs.ts";

type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"o">]> };
type X = Tensor<readonly [Dim<"n">, Dim<"d">]>;
const [n, d, r, o] = [dim("n"), dim("d"), dim("r"), dim("o")]; // sized by each draw
const sizes = fc.record({
  n: fc.integer({ min: 1, max: 6 }),
  d: fc.integer({ min: 1, max: 6 }),
  r: fc.integer({ min: 1, max: 4 }),
  o: fc.integer({ min: 1, max: 6 }),
});

describe("a composed CoLA layer B·silu(A·x)", () => {
  it("has gradients (w.r.t. A, B and x) that match central differences", async () => {
    // loss Σ w ⊙ layer(x) with a fixed random w, so every output element gets its own cotangent
    const loss = (p: P & { x: X }, w: Tensor) => op.sum(op.mul(colaLinear(p.x, p), w as never));
    const args = [{ A: spec([d, r]), B: spec([r, o]), x: spec([n, d]) }, spec([n, o])] as const;
    await fc.assert(
      fc.asyncProperty(inputsFor(args, { dims: sizes }), async ({ inputs, dims, seed }) => {
        await checkGrads(loss, args, inPrecision(inputs, true), { dims, seed });
      }),
      { numRuns: runs(25) },
    );
  });

  it("with identity in place of silu equals a dense layer with W = A·B", async () => {
    const args = [{ A: spec([d, r]), B: spec([r, o]) }, spec([n, d])] as const;
    const identityCola = (p: P, x: X) => colaLinear(x, p, (t) => t);
    const dense = (p: P, x: X) => linear(x, op.matmul(p.A, p.B));
    await fc.assert(forAllInputs(matchesDense(identityCola, dense, args), { dims: sizes }), { numRuns: runs(25) });
  });
});
