/**
 * Backends in a browser. The wasm backend is tfjs-backend-wasm with its .wasm files fetched from the
 * server (backends/wasm/backend.ts reads them from node_modules, which a page cannot). `auto` takes WebGPU
 * when the browser has it and a hardware adapter answers; a software adapter (SwiftShader in headless
 * Chromium: 20-40x slower than wasm) only when WebGPU is asked for by name. Otherwise the run falls back to
 * wasm and says why.
 */
import * as E from "fp-ts/lib/Either.js";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { Backend } from "../ir/backend.ts";
import { tfjsBackend } from "../backends/tfjs/backend.ts";
import type { WebgpuBackend } from "../backends/webgpu/backend.ts";
import { adapterInfo, adapterName, isSoftwareAdapter } from "../backends/webgpu/adapter.ts";
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

/** navigator.gpu's adapter, its name and whether it is a software one; or why there is none. */
export interface ProbedAdapter {
  readonly adapter: GPUAdapter;
  readonly name: string;
  readonly software: boolean;
}

export async function probeWebgpu(): Promise<E.Either<string, ProbedAdapter>> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu)
    return E.left(
      "this browser has no WebGPU (navigator.gpu is missing; in Chromium it may need --enable-unsafe-webgpu)",
    );
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return E.left(`WebGPU adapter request failed: ${(e as Error).message}`);
  }
  if (!adapter) return E.left("WebGPU is present but no GPU adapter is available");
  const info = await adapterInfo(adapter);
  return E.right({ adapter, name: adapterName(info), software: isSoftwareAdapter(info) });
}

/**
 * The note for a software WebGPU adapter (SwiftShader in headless Chromium computes right answers at CPU
 * speed, 20-40x slower than wasm there): auto passes over it for wasm, an explicit webgpu choice uses it.
 */
export function softwareAdapterNote(choice: BackendChoice, adapter: string): string {
  return choice === "webgpu"
    ? `WebGPU runs on a software adapter (${adapter}): it computes on the CPU, far slower than a GPU and usually slower than wasm`
    : `auto passed over WebGPU because its adapter is a software one (${adapter}: it computes on the CPU, far slower than wasm): training on wasm; choose WebGPU to use it anyway`;
}

async function openWebgpu(adapter: GPUAdapter): Promise<E.Either<string, WebgpuBackend>> {
  try {
    return E.right(await webgpuBackendBrowser(adapter));
  } catch (e) {
    return E.left(`the webgpu backend failed to start: ${(e as Error).message}`);
  }
}

/**
 * The backend for `choice`. wasm is wasm. auto takes a hardware WebGPU adapter and otherwise wasm, saying
 * why; webgpu takes any adapter (a software one with a note) and falls back to wasm only when there is none
 * or it fails to start. A note says why the backend in use is not the one asked for, or that it is slow.
 */
export async function loadBrowserBackend(choice: BackendChoice): Promise<E.Either<string, LoadedBackend>> {
  if (choice === "wasm") return E.map((backend: Backend<any>) => ({ backend }))(await browserWasmBackend());
  const probed = await probeWebgpu();
  const software = E.isRight(probed) && probed.right.software;
  if (software && choice === "auto") {
    const wasm = await browserWasmBackend();
    if (E.isRight(wasm)) return E.right({ backend: wasm.right, note: softwareAdapterNote("auto", probed.right.name) });
    // no wasm: a slow GPU beats none
    const gpu = await openWebgpu(probed.right.adapter);
    if (E.isLeft(gpu)) return E.left(`${wasm.left}; and ${gpu.left}`);
    return E.right({
      backend: gpu.right,
      webgpu: gpu.right,
      note: `${wasm.left}: ${softwareAdapterNote("webgpu", probed.right.name)}`,
    });
  }
  const gpu = E.isRight(probed) ? await openWebgpu(probed.right.adapter) : probed;
  if (E.isRight(gpu))
    return E.right({
      backend: gpu.right,
      webgpu: gpu.right,
      note: software && E.isRight(probed) ? softwareAdapterNote("webgpu", probed.right.name) : undefined,
    });
  const wasm = await browserWasmBackend();
  if (E.isLeft(wasm)) return E.left(`${gpu.left}; and ${wasm.left}`);
  return E.right({
    backend: wasm.right,
    note: `${choice === "webgpu" ? "WebGPU was asked for, but " : ""}${gpu.left}: training on wasm instead`,
  });
}
