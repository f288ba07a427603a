import type { Backend } from "../backends/backend.ts";
import type { Plan } from "../fusion/plan.ts";

/**
 * The generated WGSL of one kernel of a plan, where the backend can show it. Only a WebGPU backend
 * generates WGSL; on any other the panel says so instead of showing nothing.
 */
export function shaderSource(backend: Backend<any>, plan: Plan, kernel: number): { wgsl: string | null; note: string } {
  const launch = plan.launches[kernel];
  if (!launch) return { wgsl: null, note: `no kernel ${kernel} in this plan` };
  return { wgsl: null, note: `the ${backend.name} backend runs compiled kernels, not WGSL: shader source exists only on the webgpu backend` };
}
