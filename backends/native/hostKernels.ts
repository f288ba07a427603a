import * as E from "fp-ts/lib/Either.js";
import type { HostKernels } from "../../ir/hostKernels.ts";
import { checkSizes } from "../../util/linalg/gemm.ts";
import { loadNativeAddon, type NativeAddon } from "./build.ts";

/**
 * The native engine's loops for host-side training work: a GEMM (Fira's projections). Callers that train
 * on any backend may pass them in (train's `hostKernels`); where the addon does not load, the reason.
 */
export function nativeHostKernels(): E.Either<string, HostKernels> {
  return E.map((addon: NativeAddon): HostKernels => ({
    gemm: (a, b, M, K, N, transA = false, transB = false) => {
      checkSizes(a, b, M, K, N);
      const out = new Float32Array(M * N);
      addon.matmul(a, b, out, 1, M, K, N, false, transA, transB);
      return out;
    },
  }))(loadNativeAddon());
}
