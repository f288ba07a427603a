/// <reference types="@webgpu/types" />
import { webgpuBackend, type WebgpuBackend } from "./backend.ts";

/** navigator.gpu's adapter (hardware, or SwiftShader in headless Chromium); throws why there is none. */
export async function browserAdapter(): Promise<GPUAdapter> {
  if (typeof navigator === "undefined" || !navigator.gpu)
    throw new Error(
      "this browser has no WebGPU (navigator.gpu is missing; Chromium needs --enable-unsafe-webgpu where it is off)",
    );
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("navigator.gpu.requestAdapter() found no adapter");
  return adapter;
}

/** The webgpu backend in a browser, on `adapter` (one that has not opened a device yet) or navigator.gpu's. */
export async function webgpuBackendBrowser(adapter?: GPUAdapter): Promise<WebgpuBackend> {
  return webgpuBackend(adapter ?? (await browserAdapter()), "navigator.gpu");
}
