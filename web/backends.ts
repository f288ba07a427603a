/**
 * Backends in a browser. The wasm backend is tfjs-backend-wasm with its .wasm files fetched from the
 * server (backends/wasm/backend.ts reads them from node_modules, which a page cannot). WebGPU is taken when the
 * browser has it and an adapter answers; otherwise the run falls back to wasm and says why.
 */
import * as E from "fp-ts/lib/Either.js";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { Backend } from "../ir/backend.ts";
import { tfjsBackend } from "../backends/tfjs/backend.ts";
import type { WebgpuBackend } from "../backends/webgpu/backend.ts";
import { webgpuBackendBrowser } from "../backends/webgpu/browser.ts";
import type { BackendChoice } from "./protocol.ts";

export interface LoadedBackend {
  readonly backend: Backend<any>;
  /** Set when the backend is WebGPU: its tfjs backend runs the WGSL programs the plan panel shows. */
  readonly webgpu?: WebgpuBackend;
  /** Why the backend in use is not the one asked for, if it is not. */
  readonly note?: string;
}

let wasmPathsSet = false;

export async function browserWasmBackend(): Promise<E.Either<string, Backend<any>>> {
  if (!wasmPathsSet) {
    setWasmPaths(new URL("wasm/", self.location.href).href);
    wasmPathsSet = true;
  }
  const be = tfjsBackend(
    "wasm",
    () =>
      `tfjs-backend-wasm ${tf.version_core}, SIMD ${tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "on" : "off"}, threads ${tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? "on" : "off"}`,
  );
  try {
    await be.activate!();
  } catch (e) {
    return E.left(`the wasm backend failed to start: ${(e as Error).message}`);
  }
  // tf.setBackend reports a failed init by returning false, not by throwing
  if (tf.getBackend() !== "wasm")
    return E.left(
      "the wasm backend failed to start (tfjs-backend-wasm could not load its .wasm files from the server)",
    );
  return E.right(be);
}

/** Why WebGPU cannot be used here, or null when an adapter answers. */
export async function webgpuUnavailable(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu)
    return "this browser has no WebGPU (navigator.gpu is missing; in Chromium it may need --enable-unsafe-webgpu)";
  try {
    if (!(await gpu.requestAdapter())) return "WebGPU is present but no GPU adapter is available";
  } catch (e) {
    return `WebGPU adapter request failed: ${(e as Error).message}`;
  }
  return null;
}

/** rankfuse's webgpu backend on navigator.gpu's adapter (SwiftShader in headless Chromium). */
async function browserWebgpuBackend(): Promise<E.Either<string, WebgpuBackend>> {
  const why = await webgpuUnavailable();
  if (why) return E.left(why);
  try {
    return E.right(await webgpuBackendBrowser());
  } catch (e) {
    return E.left(`the webgpu backend failed to start: ${(e as Error).message}`);
  }
}

export async function loadBrowserBackend(choice: BackendChoice): Promise<E.Either<string, LoadedBackend>> {
  if (choice === "wasm") return E.map((backend: Backend<any>) => ({ backend }))(await browserWasmBackend());
  const gpu = await browserWebgpuBackend();
  if (E.isRight(gpu)) return E.right({ backend: gpu.right, webgpu: gpu.right });
  const wasm = await browserWasmBackend();
  if (E.isLeft(wasm)) return E.left(`${gpu.left}; and ${wasm.left}`);
  return E.right({
    backend: wasm.right,
    note: `${choice === "webgpu" ? "WebGPU was asked for, but " : ""}${gpu.left}: training on wasm instead`,
  });
}
