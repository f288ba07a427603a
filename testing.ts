/**
 * "rankfuse/testing": the helpers rankfuse's own tests use, for testing your layers and backends the
 * same way (PyTorch's assert_close and gradcheck, JAX's check_grads):
 *
 * - `expectAllclose` / `allclose`: elementwise closeness of arrays or trees of them, with a report that
 *   names the worst element, both values, the absolute and relative error and how many elements differ;
 * - `checkGrads`: the gradient against float64 central differences along a random direction;
 * - equivalence checks, each `(fn, args, options) => (inputs) => Promise`: `fusedMatchesUnfused`,
 *   `rematMatchesSaveAll`, `matchesDense`, `matchesReference`;
 * - fast-check pieces: `inputsFor(args)` (random inputs, optionally at random sizes of unbound dims) and
 *   `forAllInputs(check)`, the property "the check holds for every input" (fast-check is a peer
 *   dependency: install it next to rankfuse to use this entry point).
 *
 * A property test of your own layer (test/testing/example.test.ts runs exactly this):
 *
 *   import { it } from "vitest";
 *   import fc from "fast-check";
 *   import { dim, spec, matmul, gelu, loadBackend, type Dim, type Tensor } from "rankfuse";
 *   import { forAllInputs, fusedMatchesUnfused, unwrap } from "rankfuse/testing";
 *
 *   const [n, d, r] = [dim("n", 16), dim("d", 32), dim("r", 4)];
 *   type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"d">]> };
 *   const layer = (p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => matmul(gelu(matmul(x, p.A)), p.B);
 *   const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;
 *
 *   it("my GELU low-rank layer fuses without changing its outputs or gradients", async () => {
 *     const backend = unwrap(await loadBackend("native"));
 *     await fc.assert(forAllInputs(fusedMatchesUnfused(layer, args, { backend })), { numRuns: 5 });
 *   });
 */
export {
  allclose,
  allcloseReport,
  allcloseViolation,
  assertAllclose,
  expectAllclose,
  AllcloseError,
  type AllcloseOptions,
  type AllcloseReport,
  type Mismatch,
  type Tolerance,
} from "./testing/allclose.ts";
export type { Shaped } from "./testing/tree.ts";
export {
  checkGrads,
  directionalDerivatives,
  type GradCheckOptions,
  type DirectionalDerivatives,
  type ScalarFn,
} from "./testing/checkGrads.ts";
export {
  fusedMatchesUnfused,
  rematMatchesSaveAll,
  matchesDense,
  matchesReference,
  type Comparison,
  type Equivalence,
  type EquivalenceOptions,
} from "./testing/equivalence.ts";
export { evaluate, type Evaluation, type EvaluateOptions } from "./testing/evaluate.ts";
export { randomInputs, type InputOptions } from "./testing/inputs.ts";
export {
  forAllInputs,
  inputsFor,
  type DrawnInputs,
  type InputArbitraryOptions,
  type InputCheck,
} from "./testing/arbitraries.ts";
export { unwrap } from "./testing/unwrap.ts";
