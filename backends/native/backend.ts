import * as E from "fp-ts/lib/Either.js";
import { PRIMS, type Prim } from "../../dsl/prims.ts";
import type { Backend, HostTensor, Kernel } from "../backend.ts";
import { loadNativeAddon } from "./build.ts";
import { nativeKernels, type NativeKernel, type NBuf } from "./kernels.ts";

/**
 * The native CPU engine: float32 kernels in a Node addon (OpenMP threads, SIMD for the CPU it was built
 * on), on buffers that are ordinary typed arrays. The addon is compiled on first use (or at install);
 * when it cannot be, loading fails with the reason and `auto` falls back to wasm.
 */
export function nativeBackend(): E.Either<string, Backend<NBuf>> {
  const loaded = loadNativeAddon();
  if (E.isLeft(loaded)) return loaded;
  const addon = loaded.right;
  let live = 0;
  const track = (b: NBuf) => ((live += b.byteLength), b);
  return E.right({
    name: "native",
    caps: { prims: new Set<Prim>(PRIMS), fusedChains: false, float64: false },
    write: (host: HostTensor) => track(host.dtype === "int32" ? Int32Array.from(host.data) : Float32Array.from(host.data)),
    read: async (buf) => buf.slice(),
    free: (buf) => void (live -= buf.byteLength),
    prepare: (eqn): Kernel<NBuf> => {
      const k = nativeKernels[eqn.prim] as NativeKernel<Prim>;
      const abs = eqn.inputs.map((v) => v.abs);
      return (inputs) => k(addon, inputs, abs, eqn.out.abs, eqn.params);
    },
    dispatch: (kernel, inputs) => track(kernel(inputs)),
    liveBytes: () => live,
    describe: () => `native addon (g++ -O3 -march=native, OpenMP ${addon.threads()} threads)`,
  });
}
