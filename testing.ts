/**
 * "rankfuse/testing": the helpers rankfuse's own tests use, for testing your layers and backends the
 * same way (PyTorch's assert_close and gradcheck, JAX's check_grads): `expectAllclose` / `allclose`,
 * elementwise closeness of arrays or trees of them with a report that names the worst element, both
 * values, the absolute and relative error and how many elements differ; `checkGrads`, the gradient
 * against float64 central differences along a random direction; and unwrap.
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
export { unwrap } from "./testing/unwrap.ts";
