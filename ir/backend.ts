import type * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "./errors.ts";
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

/**
 * One backend as the backend list sees it: a name, a place in `auto`'s order, and a loader. A module
 * imports its backend's code only inside `load()`, so listing it costs nothing until it is asked for.
 */
export interface BackendModule<N extends string = string> {
  /** What users type (`--backend NAME`, `RANKFUSE_BACKEND=NAME`). */
  readonly name: N;
  /** `auto` tries higher priorities first; 0 means auto never picks it (it loads only by name). */
  readonly priority: number;
  /** Why auto should pass it over without loading (null = try). */
  autoPrecheck?(): Promise<string | null>;
  /** The backend, or why it cannot run here as one readable error; never throws for an unavailable backend. */
  load(): Promise<E.Either<RankfuseError, Backend<any>>>;
}
