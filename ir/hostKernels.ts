import type { Gemm } from "../util/linalg/gemm.ts";

/**
 * Compiled loops for work that stays on the host between steps (the optimizer update, a training
 * scheme's projections). A backend that has them offers them; the training code takes them as
 * arguments and falls back to JavaScript without them, with bit-identical results for AdamW, so
 * nothing below the command line imports a native module (the browser bundle needs no stub).
 */
export interface HostKernels {
  /** AdamW's per-tensor update, the same float64 arithmetic as the JavaScript loop in train/adamw.ts. */
  readonly adamwStep?: AdamwKernel["adamwStep"];
  /** A float32 matrix product for optimizer-side work (Fira's projections). */
  readonly gemm?: Gemm;
}

/** The AdamW update of one tensor in place: p, m and v change; see train/adamw.ts for the formula. */
export interface AdamwKernel {
  adamwStep(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    b1: number,
    b2: number,
    eps: number,
    decay: number,
    stepSize: number,
    sqrtBc2: number,
  ): void;
}
