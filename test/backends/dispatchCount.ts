/// <reference types="@webgpu/types" />
import { compile } from "../../run/compile.ts";
import { unwrap } from "../../testing/unwrap.ts";
/**
 * Counts real GPU dispatches: every `dispatchWorkgroups` on a compute pass of this WebGPU
 * implementation, tfjs's kernels and rankfuse's fused ones alike. Kernel counts are the spec of
 * fusion (a CoLA layer forward is 1 kernel on webgpu, its backward at most 3), and this checks them
 * where the work happens, not in the plan. Used by tests and the fusion bench; costs nothing unhooked.
 */
export interface DispatchCounter {
  readonly count: number;
  /** Puts dispatchWorkgroups back as it was. */
  stop(): void;
}

export function countDispatches(device: GPUDevice): DispatchCounter {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  const proto = Object.getPrototypeOf(pass) as GPUComputePassEncoder;
  pass.end();
  encoder.finish(); // never submitted: only opened to reach the pass encoder's prototype
  const original = proto.dispatchWorkgroups;
  const counter = { count: 0, stop: () => void (proto.dispatchWorkgroups = original) };
  proto.dispatchWorkgroups = function (
    this: GPUComputePassEncoder,
    ...args: Parameters<GPUComputePassEncoder["dispatchWorkgroups"]>
  ) {
    counter.count++;
    return original.apply(this, args);
  };
  return counter;
}

/**
 * Compiles `fn` for a backend, runs it once (which builds its pipelines), then runs it again counting
 * that run's dispatches: its outputs, the dispatches and the plan's kernel count.
 */
export async function countedRun(
  counter: DispatchCounter,
  backend: any,
  fn: any,
  args: any,
  inputs: readonly unknown[],
): Promise<{ out: any; dispatches: number; kernels: number }> {
  const c = unwrap(compile(fn, { args, backend })) as any;
  await unwrap(await c.run(...inputs)); // first run compiles the pipelines
  const before = counter.count;
  const out: any = unwrap(await c.run(...inputs));
  return { out, dispatches: counter.count - before, kernels: c.plan.kernelCount };
}
