import * as E from "fp-ts/lib/Either.js";
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { PRIMS, type Prim } from "../../ir/prims.ts";
import type { Backend, HostTensor, Kernel } from "../../ir/backend.ts";
import type { TfKernel } from "../tfjs/kernels.ts";
import { webgpuKernels } from "../webgpu/kernels.ts";

/**
 * The cuda backend: TensorFlow's CUDA kernels through @tensorflow/tfjs-node-gpu, imported only when this
 * backend is asked for. It is not a dependency: its install script downloads libtensorflow (2.9.1, built
 * for CUDA 11.2 and cuDNN 8.1), which fails on machines without that network or without CUDA.
 * Every primitive runs as one TensorFlow op: no fused chains here.
 */
export const CUDA_PACKAGE = "@tensorflow/tfjs-node-gpu";
export const CUDA_INSTALL = `backend cuda needs ${CUDA_PACKAGE}, which is not installed: on a Linux x64 machine with an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1 (what its libtensorflow 2.9.1 is built for), run \`npm install ${CUDA_PACKAGE}@4.22\``;

/** Is tfjs-node-gpu resolvable from here? (Cheap: no import, no libtensorflow.) */
export async function cudaInstalled(): Promise<boolean> {
  try {
    createRequire(import.meta.url).resolve(CUDA_PACKAGE);
    return true;
  } catch {
    return false;
  }
}

const TF_NAME = "tensorflow";

export async function cudaBackend(): Promise<E.Either<string, Backend<tf.Tensor>>> {
  if (!(await cudaInstalled())) return E.left(CUDA_INSTALL);
  try {
    await import(CUDA_PACKAGE);
  } catch (e) {
    return E.left(
      `backend cuda: ${CUDA_PACKAGE} is installed but does not load (${(e as Error).message.split("\n")[0]}); it needs CUDA 11.2 and cuDNN 8.1 libraries on LD_LIBRARY_PATH`,
    );
  }
  if (!tf.findBackendFactory(TF_NAME))
    return E.left(
      `backend cuda: ${CUDA_PACKAGE} registered its backend with another copy of @tensorflow/tfjs-core than rankfuse's ${tf.version_core}: install ${CUDA_PACKAGE}@${tf.version_core} so npm shares one`,
    );
  await tf.setBackend(TF_NAME);
  const onGpu = (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  if (onGpu === false)
    return E.left(
      `backend cuda: TensorFlow found no CUDA GPU (CUDA 11.2 and cuDNN 8.1 libraries must be on LD_LIBRARY_PATH, and nvidia-smi must see a GPU)`,
    );
  return E.right({
    name: "cuda",
    caps: { prims: new Set<Prim>(PRIMS), fusedChains: false, float64: false },
    activate: async () => {
      if (tf.getBackend() !== TF_NAME) await tf.setBackend(TF_NAME);
    },
    write: (host: HostTensor) =>
      tf.tensor(
        host.data instanceof Float64Array ? Float32Array.from(host.data) : host.data,
        [...host.shape],
        host.dtype,
      ),
    read: async (buf) => (await buf.data()) as Float32Array | Int32Array,
    free: (buf) => buf.dispose(),
    prepare: (eqn): Kernel<tf.Tensor> => {
      // the device-resident table (batched matmul, segment sums on the device), as on webgpu
      const k = webgpuKernels[eqn.prim] as TfKernel<Prim>;
      const abs = eqn.inputs.map((v) => v.abs);
      return (inputs) => tf.tidy(() => k(inputs, abs, eqn.out.abs, eqn.params));
    },
    dispatch: (kernel, inputs) => kernel(inputs),
    liveBytes: () => tf.memory().numBytes,
    describe: () =>
      `${CUDA_PACKAGE} on tfjs-core ${tf.version_core}, ${onGpu ? "TensorFlow on a CUDA GPU" : "TensorFlow did not say whether it uses the GPU"}`,
  });
}
