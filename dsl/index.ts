/** The public DSL: dims, specs, ops, tracing, autodiff and compilation. */
export { dim, anon, type Dim, type Shape } from "./dim.ts";
export { spec, TensorSpec, type TensorsOf } from "./spec.ts";
export { Tensor } from "./trace.ts";
export * from "./ops.ts";
export { valueAndGrad, grad } from "./autodiff.ts";
export { compile, trace, type Compiled } from "./compile.ts";
export { Graph } from "./graph.ts";
export { renderError, type RankfuseError } from "./errors.ts";
export type { ShapeError } from "./shapeTypes.ts";
export { PRIMS, type Prim } from "./prims.ts";
