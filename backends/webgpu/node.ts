/// <reference types="@webgpu/types" />
import * as E from "fp-ts/lib/Either.js";
import { existsSync } from "node:fs";
import { summarize, type AdapterSummary } from "./adapter.ts";
import type { WebgpuBackend } from "./backend.ts";

/**
 * WebGPU in Node through the npm package `webgpu` (Dawn), imported only here and only when asked for.
 * Hardware first (Dawn's default backend), then Dawn's OpenGL backend in compatibility mode, which on
 * a machine without a GPU is Mesa's llvmpipe: right answers at CPU speed. One device per process.
 */
type Dawn = { create(flags: string[]): GPU; globals: object };

const INSTALL_HINT = "apt-get install libegl1 libgl1-mesa-dri libegl-mesa0 (Mesa's EGL/OpenGL drivers)";

let dawn: Promise<Dawn> | null = null;
async function loadDawn(): Promise<Dawn> {
  dawn ??= import("webgpu").then((m) => {
    Object.assign(globalThis, m.globals); // GPUBufferUsage, GPUMapMode, ... which tfjs uses as globals
    return m as unknown as Dawn;
  });
  return dawn;
}

/**
 * Dawn reaches hardware on Linux through Vulkan: without the Vulkan loader there is nothing to find,
 * and asking anyway prints Dawn warnings. Elsewhere (Metal, D3D12) always ask.
 */
function mayHaveHardware(): boolean {
  if (process.platform !== "linux") return true;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/lib64",
  ];
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`));
}

interface Found {
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
  readonly route: string;
}

async function hardwareAdapter(d: Dawn): Promise<Found | null> {
  if (!mayHaveHardware()) return null;
  const gpu = d.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  return adapter && !summarize(adapter, "").software ? { gpu, adapter, route: "Dawn (default backend)" } : null;
}

async function openglAdapter(d: Dawn): Promise<Found | null> {
  process.env.EGL_PLATFORM ??= "surfaceless"; // no display server: EGL renders off-screen
  const gpu = d.create(["backend=opengl"]);
  const adapter = await gpu.requestAdapter({ featureLevel: "compatibility" } as GPURequestAdapterOptions);
  return adapter ? { gpu, adapter, route: "Dawn OpenGL (compatibility mode)" } : null;
}

async function findAdapter(hardwareOnly: boolean): Promise<E.Either<string, Found>> {
  let d: Dawn;
  try {
    d = await loadDawn();
  } catch (e) {
    return E.left(`the npm package "webgpu" (Dawn) does not load: ${(e as Error).message.split("\n")[0]}`);
  }
  const hw = await hardwareAdapter(d);
  if (hw) return E.right(hw);
  if (hardwareOnly)
    return E.left(
      mayHaveHardware()
        ? "Dawn found no hardware GPU adapter"
        : "no hardware GPU adapter (no Vulkan loader, libvulkan.so.1)",
    );
  const gl = await openglAdapter(d);
  return gl
    ? E.right(gl)
    : E.left(`no WebGPU adapter: no hardware GPU, and Dawn's OpenGL backend found no EGL driver (${INSTALL_HINT})`);
}

/** The adapter the webgpu backend would use, without opening a device (for `auto` and `rankfuse backends`). */
export async function probeAdapter(hardwareOnly = false): Promise<E.Either<string, AdapterSummary>> {
  const found = await findAdapter(hardwareOnly);
  return E.map((f: Found) => summarize(f.adapter, f.route))(found);
}

let loaded: Promise<WebgpuBackend> | null = null;

/** The webgpu backend in Node (hardware adapter if there is one, else Mesa's llvmpipe). */
export async function webgpuBackendNode(): Promise<WebgpuBackend> {
  loaded ??= (async () => {
    const found = await findAdapter(false);
    if (E.isLeft(found)) throw new Error(found.left);
    const nav = ((globalThis as { navigator?: object }).navigator ??= {}) as { gpu?: unknown };
    // tfjs-backend-webgpu refuses to construct without navigator.gpu; Dawn's GPU object stands in
    if (!nav.gpu) Object.defineProperty(nav, "gpu", { value: found.right.gpu, configurable: true });
    const { webgpuBackend } = await import("./backend.ts");
    return webgpuBackend(found.right.adapter, found.right.route);
  })();
  loaded.catch(() => (loaded = null));
  return loaded;
}
