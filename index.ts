/**
 * rankfuse, the package's main entry point: the shape-typed DSL (dims, specs, ops, autodiff), tracing
 * and compiling a function into a plan, remat policies, and loading a backend to run it on.
 *
 *   import { dim, spec, compile, valueAndGrad, loadBackend } from "rankfuse";
 *
 * Models, methods, training, test helpers and the backend interface are the entry points
 * "rankfuse/models", "rankfuse/methods", "rankfuse/train", "rankfuse/testing" and "rankfuse/backend-api".
 */
export { dim, anon, type Dim, type Shape } from "./ir/dim.ts";
export { spec, TensorSpec, type TensorsOf, type HostData, type HostOf, type OutputsOf } from "./dsl/spec.ts";
export { Tensor, checkpointName } from "./dsl/trace.ts";
export * from "./dsl/ops.ts";
export { valueAndGrad, grad } from "./dsl/autodiff.ts";
export { trace, type Traced } from "./dsl/traceFunction.ts";
export { plan, type PlanOptions, type Planned } from "./run/plan.ts";
export { compile, type Compiled, type CompileOptions } from "./run/compile.ts";
export type { RunStats } from "./run/executor.ts";
export { Graph } from "./ir/graph.ts";
export type { Plan, Launch } from "./passes/plan.ts";
export {
  saveAll,
  saveNothing,
  saveNames,
  savedResiduals,
  type RematPolicy,
  type SavedResidual,
} from "./passes/remat.ts";
export { colaMPolicy as colaM } from "./methods/colaM/policy.ts";
export { budget, type BudgetPolicy } from "./passes/budget.ts";
export { loadBackend, BACKEND_NAMES, BACKENDS, type BackendName } from "./backends/index.ts";
export type { Backend } from "./ir/backend.ts";
export { renderError, type RankfuseError } from "./ir/errors.ts";
export type { ShapeError } from "./ir/shapeTypes.ts";
export type { DType } from "./ir/prims.ts";
