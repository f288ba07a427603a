import { PRIMS, type Prim } from "../../ir/prims.ts";
import type { Eqn } from "../../ir/graph.ts";
import type { Backend, HostTensor, Kernel } from "../../ir/backend.ts";
import { referenceKernels, type RefKernel } from "./kernels.ts";

/** Float64 JavaScript: slow, simple, and the oracle for every test. */
export function referenceBackend(): Backend<Float64Array> {
  let live = 0;
  const track = (b: Float64Array) => ((live += b.byteLength), b);
  return {
    name: "reference",
    caps: { prims: new Set<Prim>(PRIMS), fusedChains: false, float64: true },
    write: (host: HostTensor) => track(Float64Array.from(host.data)),
    read: async (buf) => buf.slice(),
    free: (buf) => void (live -= buf.byteLength),
    prepare: (eqn: Eqn): Kernel<Float64Array> => {
      const k = referenceKernels[eqn.prim] as RefKernel<Prim>;
      const abs = eqn.inputs.map((v) => v.abs);
      return (inputs) => k(inputs, abs, eqn.out.abs, eqn.params);
    },
    dispatch: (kernel, inputs) => track(kernel(inputs)),
    liveBytes: () => live,
    describe: () => "float64 JavaScript reference kernels",
  };
}
