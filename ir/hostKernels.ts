import type { Gemm } from "../util/linalg/gemm.ts";

/**
 * Compiled loops for work that stays on the host (a training scheme's projections). A backend that has
 * them offers them; the training code takes them as arguments and falls back to JavaScript without
 * them, so nothing below the command line imports a native module (the browser bundle needs no stub).
 */
export interface HostKernels {
  /** A float32 matrix product for optimizer-side work (Fira's projections). */
  readonly gemm?: Gemm;
}
