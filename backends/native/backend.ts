import * as E from "fp-ts/lib/Either.js";
import { PRIMS, type Prim } from "../../ir/prims.ts";
import type { Backend, HostTensor, Kernel } from "../../ir/backend.ts";
import { loadNativeAddon } from "./build.ts";
import { nativeKernels, type NativeKernel } from "./kernels.ts";
import { BufferPool, type NBuf } from "./pool.ts";
import { nativeFused, NATIVE_FUSED_KINDS, NATIVE_MAX_FUSED_RANK } from "./fused.ts";
import { isElementwise, isMatmulEpilogue, isRow } from "../../ir/fusedKinds.ts";
import type { FusedEqn } from "../../ir/graph.ts";
import { byParts } from "../../run/lower.ts";
import { debugLevel } from "../../run/debug.ts";
import { elementwiseSource, nativeElementwise } from "./codegen/elementwise.ts";
import { nativeRow, rowSource } from "./codegen/row.ts";
import { matmulEpilogueSource, nativeMatmulEpilogue } from "./codegen/matmulEpilogue.ts";

/**
 * The native CPU engine: float32 kernels in a Node addon (OpenMP threads, SIMD for the CPU it was built
 * on), on buffers that are ordinary typed arrays. The addon is compiled on first use (or at install);
 * when it cannot be, loading fails with the reason and `auto` falls back to wasm.
 */
export function nativeBackend(): E.Either<string, Backend<NBuf>> {
  const loaded = loadNativeAddon();
  if (E.isLeft(loaded)) return loaded;
  const ctx = { addon: loaded.right, pool: new BufferPool() };
  const { pool } = ctx;
  const told = new Set<string>(); // fallback reasons already printed: one line each
  const backend: Backend<NBuf> & { kernelSource(node: FusedEqn): string | undefined } = {
    name: "native",
    caps: {
      prims: new Set<Prim>(PRIMS),
      fusedChains: true,
      float64: false,
      maxFusedRank: NATIVE_MAX_FUSED_RANK,
      fusedKinds: NATIVE_FUSED_KINDS,
    },
    write: (host: HostTensor) => {
      const b = host.dtype === "int32" ? pool.i32(host.data.length) : pool.f32(host.data.length);
      b.set(host.data);
      return b;
    },
    read: async (buf) => buf.slice(), // a copy: the pool reuses the buffer
    free: (buf) => pool.release(buf),
    prepare: (eqn): Kernel<NBuf> => {
      const k = nativeKernels[eqn.prim] as NativeKernel<Prim>;
      const abs = eqn.inputs.map((v) => v.abs);
      return (inputs) => k(ctx, inputs, abs, eqn.out.abs, eqn.params);
    },
    prepareFused: (node) => {
      if (!isElementwise(node) && !isRow(node) && !isMatmulEpilogue(node)) return nativeFused(ctx, node);
      const generated = isRow(node)
        ? nativeRow(ctx, node)
        : isMatmulEpilogue(node)
          ? nativeMatmulEpilogue(ctx, node)
          : nativeElementwise(ctx, node);
      if (E.isRight(generated)) return generated.right;
      if (debugLevel() >= 1)
        console.error(`[rankfuse] native: running a fused ${node.params.kind} node by parts: ${generated.left}`);
      return byParts(backend, node);
    },
    kernelSource: (node) =>
      isRow(node)
        ? rowSource(node)
        : isElementwise(node)
          ? elementwiseSource(node)
          : isMatmulEpilogue(node)
            ? matmulEpilogueSource(node)
            : undefined,
    dispatch: (kernel, inputs) => kernel(inputs),
    liveBytes: () => pool.liveBytes,
    describe: () =>
      `native addon (g++ -O3 -march=native, ${ctx.addon.gemmKernel()} GEMM, OpenMP ${ctx.addon.threads()} threads)`,
  };
  return E.right(backend);
}
