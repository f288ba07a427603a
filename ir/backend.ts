import type { Eqn, FusedEqn } from "./graph.ts";
import type { DType, Prim } from "./prims.ts";

/** Data on the host side of a backend: a row-major typed array with its shape. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly data: Float32Array | Float64Array | Int32Array;
}

/** What a backend can do; the planner reads these, never backend names. */
export interface BackendCaps {
  /** Primitives with a kernel here. */
  readonly prims: ReadonlySet<Prim>;
  /** Can it run a fused low-rank chain as one kernel? */
  readonly fusedChains: boolean;
  /** Does it compute in float64 (the reference) rather than float32? */
  readonly float64: boolean;
  /** Largest workgroup (shared) memory a fused kernel may use, in bytes, where that applies. */
  readonly maxWorkgroupMemory?: number;
  /** Largest rank r (the middle width of a chain) its fused kernels take; with fusedChains. */
  readonly maxFusedRank?: number;
  /** Fused kernel kinds it runs as one launch (ir/fusedKinds.ts); with fusedChains. */
  readonly fusedKinds?: ReadonlySet<string>;
}

/** A prepared kernel: takes the input buffers of one equation, returns a new output buffer. */
export type Kernel<B> = (inputs: readonly B[]) => B;

/**
 * The whole interface a backend implements: alloc+write, read, free, prepare a kernel, dispatch it,
 * and report the bytes it holds (the executor's measured memory).
 */
export interface Backend<B = unknown> {
  readonly name: string;
  readonly caps: BackendCaps;
  /** Makes this backend the active one where a library keeps a global (tfjs); called before each run. */
  activate?(): Promise<void>;
  write(host: HostTensor): B;
  read(buf: B): Promise<Float32Array | Float64Array | Int32Array>;
  free(buf: B): void;
  prepare(eqn: Eqn): Kernel<B>;
  /** A fused node as one kernel, returning its outputs in order (where caps.fusedKinds has its kind). */
  prepareFused?(node: FusedEqn): (inputs: readonly B[]) => B[];
  dispatch(kernel: Kernel<B>, inputs: readonly B[]): B;
  /** Bytes currently held in this backend's buffers. */
  liveBytes(): number;
  /** Human-readable facts (versions, SIMD, threads) for `rankfuse backends` and reports. */
  describe(): string;
}
