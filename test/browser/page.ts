/**
 * The browser fixture (bundled by esbuild in test/browser/webgpu.test.ts): compiles one CoLA layer's
 * forward and backward on the webgpu backend (navigator.gpu) and on the float64 reference in the same
 * page, and publishes both on `window.rankfuseResult` for the test to compare.
 */
import { referenceBackend } from "../../backends/reference/backend.ts";
import { webgpuBackendBrowser } from "../../backends/webgpu/browser.ts";
import { colaErrors, runCola } from "./colaCase.ts";

declare global {
  interface Window {
    rankfuseResult?: {
      adapter?: string;
      errors?: Record<string, number>;
      gradNorm?: number;
      error?: string;
      fused?: { dispatches: number; programs: string[] };
    };
  }
}

async function main() {
  const gpu = await webgpuBackendBrowser();
  const results = [];
  for (const seed of [11, 12]) {
    const want = await runCola(referenceBackend(), seed);
    const got = await runCola(gpu, seed);
    results.push({ errors: colaErrors(got, want), gradNorm: Math.hypot(...want.grads.A) });
  }
  const worst: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) worst[k] = Math.max(worst[k] ?? 0, v);
  const fused = { dispatches: gpu.fused.dispatches, programs: gpu.fused.compiled() }; // rankfuse's own WGSL kernels
  window.rankfuseResult = {
    adapter: gpu.describe(),
    errors: worst,
    gradNorm: Math.min(...results.map((r) => r.gradNorm)),
    fused,
  };
}

main().catch(
  (e: unknown) => (window.rankfuseResult = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
);
