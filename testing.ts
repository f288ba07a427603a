/**
 * "rankfuse/testing": the helpers rankfuse's own tests use, for testing your layers and backends the
 * same way: elementwise closeness, gradient checks against float64 central differences, and unwrap.
 */
export { allclose, allcloseViolation, assertAllclose, type Tolerance } from "./testing/allclose.ts";
export {
  checkGrads,
  directionalDerivatives,
  type GradCheckOptions,
  type DirectionalDerivatives,
  type ScalarFn,
} from "./testing/checkGrads.ts";
export { unwrap } from "./testing/unwrap.ts";
