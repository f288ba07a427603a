import type { BackendModule } from "../../ir/backend.ts";
import { guardLoad } from "../guard.ts";

/**
 * TensorFlow's CUDA kernels through tfjs-node-gpu, which is not a dependency: auto tries it first where
 * it is installed, and skips it, without importing anything, where it is not.
 */
export const cudaModule: BackendModule<"cuda"> = {
  name: "cuda",
  priority: 50,
  autoPrecheck: async () => {
    const { cudaInstalled, CUDA_PACKAGE } = await import("./backend.ts");
    return (await cudaInstalled()) ? null : `${CUDA_PACKAGE} is not installed`;
  },
  // its reasons are already the whole story (what to install, and how), so they pass through as worded
  load: () =>
    guardLoad(
      "cuda",
      async () => (await import("./backend.ts")).cudaBackend(),
      (why) => why,
    ),
};
