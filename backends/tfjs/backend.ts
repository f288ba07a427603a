import * as tf from "@tensorflow/tfjs-core";
import { PRIMS, type Prim } from "../../ir/prims.ts";
import type { Backend, HostTensor, Kernel } from "../../ir/backend.ts";
import { tfKernels, type TfKernel } from "./kernels.ts";

/**
 * A rankfuse backend over one registered TensorFlow.js backend ("cpu" or "wasm"). tfjs keeps one
 * active backend per process, so `activate` switches to ours before each run.
 */
export function tfjsBackend(tfName: string, describe: () => string): Backend<tf.Tensor> {
  return {
    name: tfName,
    caps: { prims: new Set<Prim>(PRIMS), fusedChains: false, float64: false },
    activate: async () => {
      if (tf.getBackend() !== tfName) await tf.setBackend(tfName);
    },
    write: (host: HostTensor) => {
      const data = host.data instanceof Float64Array ? Float32Array.from(host.data) : host.data;
      return tf.tensor(data, [...host.shape], host.dtype);
    },
    read: async (buf) => (await buf.data()) as Float32Array | Int32Array,
    free: (buf) => buf.dispose(),
    prepare: (eqn): Kernel<tf.Tensor> => {
      const k = tfKernels[eqn.prim] as TfKernel<Prim>;
      const abs = eqn.inputs.map((v) => v.abs);
      return (inputs) => tf.tidy(() => k(inputs, abs, eqn.out.abs, eqn.params));
    },
    dispatch: (kernel, inputs) => kernel(inputs),
    liveBytes: () => tf.memory().numBytes,
    describe,
  };
}
