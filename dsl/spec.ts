import type { Shape } from "../ir/dim.ts";
import type { DType } from "../ir/prims.ts";
import type { Tensor } from "./trace.ts";

/** Declares a function input: its dims (possibly unbound, bound at compile) and dtype. */
export class TensorSpec<S extends Shape = Shape> {
  constructor(
    readonly dims: S,
    readonly dtype: DType,
  ) {}
}

/** The spec of one input: `spec([n, d])` (float32) or `spec([n], "int32")`. */
export const spec = <const S extends Shape>(dims: S, dtype: DType = "float32"): TensorSpec<S> =>
  new TensorSpec(dims, dtype);
export const isSpec = (x: unknown): x is TensorSpec => x instanceof TensorSpec;

/** The tensors a function receives for a pytree of specs. */
export type TensorsOf<T> =
  T extends TensorSpec<infer S>
    ? Tensor<S>
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: TensorsOf<T[K]> }
      : T extends object
        ? { -readonly [K in keyof T]: TensorsOf<T[K]> }
        : never;

/** Host data for a pytree of specs: a flat row-major typed array per leaf. */
export type HostData = Float32Array | Float64Array | Int32Array;
/** The host arrays `run` takes for a pytree of specs: one flat typed array per leaf. */
export type HostOf<T> = T extends TensorSpec
  ? HostData
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: HostOf<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: HostOf<T[K]> }
      : never;

/** What a compiled function returns for a pytree of output tensors. */
export type OutputsOf<T> = T extends Tensor
  ? Float32Array | Float64Array
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: OutputsOf<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: OutputsOf<T[K]> }
      : never;
