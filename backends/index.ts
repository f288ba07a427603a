import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";
import type { Backend } from "../ir/backend.ts";
import { referenceBackend } from "./reference/backend.ts";

/** Every backend `loadBackend` knows, by name. */
export const BACKEND_NAMES = ["cuda", "webgpu", "native", "wasm", "cpu", "reference"] as const;
/** One of BACKEND_NAMES. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Every loader imports its backend's modules lazily: `webgpu` (Dawn) and tfjs-node-gpu load only when asked for. */
const loaders: { readonly [N in BackendName]: () => Promise<Backend<any>> } = {
  reference: async () => referenceBackend(),
  native: async () => {
    const be = (await import("./native/backend.ts")).nativeBackend();
    if (E.isLeft(be)) throw new Error(be.left);
    return be.right;
  },
  cpu: async () => (await import("./cpu/index.ts")).cpuBackend(),
  wasm: async () => (await import("./wasm/index.ts")).wasmBackend(),
  webgpu: async () => (await import("./webgpu/node.ts")).webgpuBackendNode(),
  cuda: async () => {
    const be = await (await import("./cuda/backend.ts")).cudaBackend();
    if (E.isLeft(be)) throw new Error(be.left);
    return be.right;
  },
};

/**
 * What `auto` means, first choice first: CUDA where tfjs-node-gpu is installed and loads, a hardware
 * WebGPU adapter, the native engine where its addon builds, then wasm and cpu.
 */
export const AUTO_ORDER: readonly BackendName[] = ["cuda", "webgpu", "native", "wasm", "cpu"];

/**
 * Why `auto` passes over a backend before loading it (null: try it). WebGPU on a software adapter
 * (llvmpipe, SwiftShader) is correct but slower than the CPU backends, so auto wants hardware only.
 */
const autoPrecheck: Partial<Record<BackendName, () => Promise<string | null>>> = {
  webgpu: async () => {
    const hw = await (await import("./webgpu/node.ts")).probeAdapter(true);
    return E.isLeft(hw) ? `webgpu: ${hw.left}` : null;
  },
  cuda: async () => ((await (await import("./cuda/backend.ts")).cudaInstalled()) ? null : "cuda: @tensorflow/tfjs-node-gpu is not installed"),
};

/** Backend names a user may ask for, with `auto`, for messages and --help. */
export const backendChoices = (): string => `auto, ${BACKEND_NAMES.join(", ")}`;

/**
 * Loads a backend by name. `auto` (or no name) takes `RANKFUSE_BACKEND` if set, else the first of
 * AUTO_ORDER that loads. Backends load lazily, so an unavailable one costs nothing until asked for.
 */
export async function loadBackend(name: string = process.env.RANKFUSE_BACKEND || "auto"): Promise<E.Either<RankfuseError, Backend<any>>> {
  if (name === "auto") {
    const { backend, passedOver } = await pickAuto();
    return backend ? E.right(backend) : E.left({ tag: "ConfigError", message: `no backend could load: ${passedOver.join("; ")}` });
  }
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    return E.left({ tag: "ConfigError", message: `unknown backend "${name}": choose one of ${backendChoices()}` });
  }
  try {
    return E.right(await loaders[name as BackendName]());
  } catch (e) {
    const msg = (e as Error).message;
    // the cuda loader's message is already the whole story (what to install, and how)
    return E.left({ tag: "ConfigError", message: name === "cuda" ? msg : `backend ${name} failed to load: ${msg}` });
  }
}

/** The first of AUTO_ORDER that loads, and why each one before it was passed over. */
export async function pickAuto(): Promise<{ backend: Backend<any> | null; passedOver: string[] }> {
  const passedOver: string[] = [];
  for (const n of AUTO_ORDER) {
    const skip = await autoPrecheck[n]?.();
    if (skip) {
      passedOver.push(skip);
      continue;
    }
    const be = await loadBackend(n);
    if (E.isRight(be)) return { backend: be.right, passedOver };
    passedOver.push(be.left.message);
  }
  return { backend: null, passedOver };
}
