import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { checkpointName, type Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { saveNames, saveNothing } from "../../passes/remat.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { loadBackend } from "../../backends/index.ts";
import { colaLinear } from "../../models/layers.ts";
import { fusedMatchesUnfused, matchesDense, matchesReference, rematMatchesSaveAll } from "../../testing/equivalence.ts";
import { forAllInputs, inputsFor } from "../../testing/arbitraries.ts";
import { evaluate } from "../../testing/evaluate.ts";
import { randomInputs } from "../../testing/inputs.ts";
import { cotangents, vjpProgram } from "../../testing/vjp.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { claimingChains } from "../passes/targets.ts";

/** The public equivalence checks of rankfuse/testing: they pass where the two sides agree, fail with the report where not. */
const [n, d, r] = [dim("n"), dim("d"), dim("r")]; // unbound: sizes come from each draw
type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"d">]> };
type X = Tensor<readonly [Dim<"n">, Dim<"d">]>;
const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;
const cola = (p: P, x: X) => colaLinear(x, p);
const sizes = fc.record({
  n: fc.integer({ min: 1, max: 6 }),
  d: fc.integer({ min: 1, max: 8 }),
  r: fc.integer({ min: 1, max: 4 }),
});

describe("fusedMatchesUnfused", () => {
  it("holds for a CoLA layer at random sizes, fused nodes run by parts on the reference (forward and backward fused)", async () => {
    const backend = claimingChains(referenceBackend());
    await fc.assert(
      fc.asyncProperty(inputsFor(args, { dims: sizes }), async ({ inputs, dims }) => {
        const c = await fusedMatchesUnfused(cola, args, { backend })(inputs, dims);
        expect([c.actual.plans.forward!.fusedCount, c.actual.plans.vjp!.fusedCount]).toEqual([1, 2]);
        expect(c.expected.plans.forward!.fusedCount + c.expected.plans.vjp!.fusedCount).toBe(0);
      }),
      { numRuns: runs(10) },
    );
  });

  it("refuses a backend that fuses nothing: the check would compare a plan with itself", async () => {
    const check = fusedMatchesUnfused(cola, args, { backend: referenceBackend(), dims: { n: 2, d: 3, r: 1 } });
    await expect(check(randomInputs(args, 0, { dims: { n: 2, d: 3, r: 1 } }))).rejects.toThrow(
      "fused vs unfused on reference: nothing was fused (caps.fusedChains is false)",
    );
  });
});

describe("rematMatchesSaveAll", () => {
  const [m, k] = [dim("m", 5), dim("k", 4)];
  const deep = (p: { W: Tensor; V: Tensor }, x: Tensor) => {
    const h = checkpointName(op.silu(op.matmul(x, p.W as never)), "h");
    return op.matmul(op.tanh(op.matmul(h, p.V as never)), p.W as never);
  };
  const deepArgs = [{ W: spec([k, k]), V: spec([k, k]) }, spec([m, k])] as const;

  it("gives bit-identical gradients under saveNothing and saveNames, though the plans recompute", async () => {
    for (const policy of [saveNothing, saveNames("h")]) {
      await fc.assert(forAllInputs(rematMatchesSaveAll(deep, deepArgs, policy)), { numRuns: runs(3) });
      const c = await rematMatchesSaveAll(deep, deepArgs, policy)(randomInputs(deepArgs, 1));
      expect(c.actual.plans.vjp!.kernelCount).toBeGreaterThan(c.expected.plans.vjp!.kernelCount);
      expect(c.actual.plans.forward).toBeUndefined(); // remat changes only the backward: outputs are not compared
    }
  });
});

describe("matchesDense", () => {
  it("a CoLA layer without activation equals the dense layer with W = A·B, at random sizes", async () => {
    const factored = (p: P, x: X) => colaLinear(x, p, (t) => t);
    const dense = (p: P, x: X) => op.matmul(x, op.matmul(p.A, p.B));
    await fc.assert(forAllInputs(matchesDense(factored, dense, args), { dims: sizes }), { numRuns: runs(10) });
  });

  it("fails on a wrong reference, naming every leaf that differs with its worst element", async () => {
    const dims = { n: 3, d: 4, r: 4 };
    const factored = (p: P, x: X) => colaLinear(x, p, (t) => t);
    const wrong = (p: P, x: X) => {
      const y = op.matmul(x, op.matmul(p.A, p.B));
      return op.add(y, y); // twice the layer
    };
    const err = await matchesDense(factored, wrong, args, { dims })(randomInputs(args, 2, { dims })).catch((e) => e);
    expect(String(err)).toMatch(/^AllcloseError: layer vs dense reference on reference: not close in 5 of 5 leaves/);
    for (const leaf of ["out", "vjp", "grad args\\[0\\]\\.A", "grad args\\[0\\]\\.B", "grad args\\[1\\]"])
      expect(String(err)).toMatch(new RegExp(`\\n  ${leaf}: \\d+ of \\d+ elements out of tolerance; worst at `));
  });
});

describe("matchesReference", () => {
  it("a float32 backend (tfjs cpu) agrees with the float64 reference within float32 tolerance", async () => {
    const backend = unwrap(await loadBackend("cpu"));
    await fc.assert(forAllInputs(matchesReference(cola, args, { backend }), { dims: sizes }), { numRuns: runs(4) });
  });
});

describe("inputsFor and the vjp program", () => {
  it("draws inputs sized by the drawn dims, the same for the same seed, printed as the seed", () => {
    fc.assert(
      fc.property(inputsFor(args, { dims: sizes }), (drawn) => {
        const { n: N, d: D, r: R } = drawn.dims as Record<string, number>;
        expect([drawn.inputs[0].A.length, drawn.inputs[0].B.length, drawn.inputs[1].length]).toEqual([
          D * R,
          R * D,
          N * D,
        ]);
        expect(randomInputs(args, drawn.seed, { dims: drawn.dims })).toEqual(drawn.inputs);
        expect(fc.stringify(drawn)).toBe(`inputs of seed ${drawn.seed} at dims ${JSON.stringify(drawn.dims)}`);
      }),
      { numRuns: runs(20) },
    );
  });

  it("differentiates sum(out ⊙ w): for x·M the gradient of x is w·Mᵀ and of M is xᵀ·w", async () => {
    const [a, b, c] = [dim("a", 2), dim("b", 3), dim("c", 2)];
    const mm = (x: Tensor, m: Tensor) => op.matmul(x, m as never);
    const mmArgs = [spec([a, b]), spec([b, c])] as const;
    const [x, m] = randomInputs(mmArgs, 4);
    const w = cotangents(unwrap(vjpProgram(mm, mmArgs)), 1);
    const ev = await evaluate(mm, mmArgs, [x, m], { backend: referenceBackend() });
    const W = w[0]!;
    const gx = Array.from({ length: 6 }, (_, k) =>
      [0, 1].reduce((s, j) => s + W[Math.floor(k / 3) * 2 + j]! * m[(k % 3) * 2 + j]!, 0),
    );
    const gm = Array.from({ length: 6 }, (_, k) =>
      [0, 1].reduce((s, i) => s + x[i * 3 + Math.floor(k / 2)]! * W[i * 2 + (k % 2)]!, 0),
    );
    expect(Object.keys(ev.gradients)).toEqual(["vjp", "grad args[0]", "grad args[1]"]);
    expect(Array.from(ev.gradients["grad args[0]"]!.data)).toEqual(gx.map((v) => expect.closeTo(v, 12)));
    expect(Array.from(ev.gradients["grad args[1]"]!.data)).toEqual(gm.map((v) => expect.closeTo(v, 12)));
    expect(ev.gradients["grad args[1]"]!.shape).toEqual([3, 2]);
  });
});
