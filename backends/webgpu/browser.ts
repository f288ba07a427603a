/// <reference types="@webgpu/types" />
import { webgpuBackend, type WebgpuBackend } from "./backend.ts";

/** The webgpu backend in a browser: navigator.gpu's adapter (hardware, or SwiftShader in headless Chromium). */
export async function webgpuBackendBrowser(): Promise<WebgpuBackend> {
  if (typeof navigator === "undefined" || !navigator.gpu)
    throw new Error(
      "this browser has no WebGPU (navigator.gpu is missing; Chromium needs --enable-unsafe-webgpu where it is off)",
    );
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("navigator.gpu.requestAdapter() found no adapter");
  return webgpuBackend(adapter, "navigator.gpu");
}
