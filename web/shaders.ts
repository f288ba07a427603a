import type { Backend } from "../ir/backend.ts";
import type { WebgpuBackend } from "../backends/webgpu/backend.ts";
import { fusedPrograms } from "../backends/webgpu/fused/lowrank.ts";
import { elementwisePrograms } from "../backends/webgpu/fused/elementwise.ts";
import { isElementwise } from "../ir/fusedKinds.ts";
import { isFused } from "../ir/graph.ts";
import type { Plan } from "../passes/plan.ts";

/** A WebGPU program one kernel launched: tfjs's cache key and the WGSL it generated for these shapes. */
export interface ShaderRecord {
  readonly key: string;
  readonly wgsl: string;
}

type Program = { shaderKey: string; getUserCode(): string };
type NodeLike = object & { body?: { eqns: readonly object[] } };

/**
 * Records, for each launch of a plan, the tfjs WebGPU programs it runs: every tfjs-webgpu kernel goes
 * through the tfjs backend's runWebGPUProgram, which we wrap, and each
 * prepared kernel says which equation it runs, which the plan maps back to its launch. Armed for one
 * training step only, so steady-state training pays nothing.
 */
export class ShaderRecorder {
  private armed = false;
  private current: object | undefined;
  private launchOf = new Map<object, number>();
  private readonly byLaunch = new Map<number, ShaderRecord[]>();

  constructor(gpu: WebgpuBackend["gpu"]) {
    const run = gpu.runWebGPUProgram.bind(gpu);
    gpu.runWebGPUProgram = ((program: Program, ...rest: unknown[]) => {
      if (this.armed) this.record(program);
      return (run as (...a: unknown[]) => unknown)(program, ...rest);
    }) as typeof gpu.runWebGPUProgram;
  }

  /** The backend with kernels that announce their equation before they run. */
  instrument<B>(backend: Backend<B>): Backend<B> {
    const enter = (node: object) => (this.current = node);
    const prepareFused = backend.prepareFused;
    return {
      ...backend,
      prepare: (eqn) => {
        const k = backend.prepare(eqn);
        return (inputs) => (enter(eqn), k(inputs));
      },
      prepareFused:
        prepareFused &&
        ((node) => {
          const k = prepareFused(node);
          return (inputs) => (enter(node), k(inputs));
        }),
    };
  }

  /** Records during `fn` (one run of `plan`). */
  async during<T>(plan: Plan, fn: () => Promise<T>): Promise<T> {
    this.launchOf = new Map();
    plan.launches.forEach((l, i) => {
      const node = l.eqn as NodeLike;
      this.launchOf.set(node, i);
      for (const e of node.body?.eqns ?? []) this.launchOf.set(e, i); // a fused node run by its parts
    });
    this.armed = true;
    try {
      return await fn();
    } finally {
      this.armed = false;
      // a launch that recorded nothing ran no WebGPU program
      plan.launches.forEach((_, i) => this.byLaunch.set(i, this.byLaunch.get(i) ?? []));
    }
  }

  private record(p: Program) {
    const i = this.current && this.launchOf.get(this.current);
    if (i === undefined) return;
    const list = this.byLaunch.get(i) ?? [];
    if (!list.some((r) => r.key === p.shaderKey)) list.push({ key: p.shaderKey, wgsl: p.getUserCode() });
    this.byLaunch.set(i, list);
  }

  shaders(launch: number): readonly ShaderRecord[] | undefined {
    return this.byLaunch.get(launch);
  }
}

/**
 * What the WGSL panel shows for one kernel: for a fused node the webgpu backend runs as one kernel,
 * rankfuse's own generated WGSL programs (whole shaders); for any other, the tfjs programs it ran;
 * or why there is no WGSL to show.
 */
export function shaderSource(
  backend: Backend<any>,
  webgpu: WebgpuBackend | undefined,
  plan: Plan,
  recorder: ShaderRecorder | undefined,
  kernel: number,
): { wgsl: string | null; note: string } {
  const launch = plan.launches[kernel];
  if (!launch) return { wgsl: null, note: `no kernel ${kernel} in this plan` };
  if (!webgpu || !recorder)
    return {
      wgsl: null,
      note: `the ${backend.name} backend runs compiled kernels, not WGSL: shader source exists only on the webgpu backend`,
    };
  const node = launch.eqn;
  const programs = !isFused(node)
    ? []
    : isElementwise(node)
      ? elementwisePrograms(node, webgpu.device.limits) // none where the group runs op by op
      : webgpu.caps.fusedKinds?.has(node.params.kind)
        ? fusedPrograms(node, webgpu.device.limits)
        : [];
  if (isFused(node) && programs.length) {
    const head = `// kernel ${kernel} (fused.${node.params.kind}) runs ${programs.length} rankfuse WGSL program${programs.length > 1 ? "s" : ""}\n`;
    return { wgsl: head + programs.map((p) => webgpu.fused.source(p)).join("\n\n"), note: "" };
  }
  const list = recorder.shaders(kernel);
  if (!list)
    return { wgsl: null, note: "no WGSL recorded yet for this kernel (it is recorded during the first training step)" };
  if (list.length === 0)
    return {
      wgsl: null,
      note: `kernel ${kernel} (${launch.eqn.prim}) launches no WebGPU program: it is a view or runs on data already in place`,
    };
  const head = `// kernel ${kernel} (${launch.eqn.prim}) runs ${list.length} WebGPU program${list.length > 1 ? "s" : ""}; tfjs wraps each in its prelude of bindings and index helpers\n`;
  return { wgsl: head + list.map((r) => `// ── ${r.key}\n${r.wgsl.trim()}\n`).join("\n"), note: "" };
}
