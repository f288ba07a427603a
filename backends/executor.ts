import type { Var } from "../dsl/graph.ts";
import type { Plan } from "../fusion/plan.ts";
import type { Backend, HostTensor, Kernel } from "./backend.ts";

export interface RunStats {
  /** Measured peak of the bytes the backend held above what it held before the run. */
  readonly peakBytes: number;
  readonly ms: number;
}

/**
 * Runs a plan on a backend: writes the inputs, dispatches each launch, frees every buffer right after
 * its last use, reads the outputs back. Kernels are prepared once per plan.
 */
export class Executor<B> {
  private readonly kernels: Kernel<B>[];

  constructor(
    readonly plan: Plan,
    readonly backend: Backend<B>,
  ) {
    this.kernels = plan.launches.map((l) => backend.prepare(l.eqn));
  }

  async run(inputs: readonly HostTensor[]): Promise<{ outputs: (Float32Array | Float64Array | Int32Array)[]; stats: RunStats }> {
    const { plan, backend } = this;
    await backend.activate?.();
    const t0 = performance.now();
    const base = backend.liveBytes();
    const env = new Map<Var, B>();
    let peak = 0;
    const release = (v: Var) => {
      const b = env.get(v);
      if (b !== undefined && !plan.graph.outputs.includes(v)) {
        backend.free(b);
        env.delete(v);
      }
    };
    try {
      plan.graph.inputs.forEach((v, i) => env.set(v, backend.write(inputs[i]!)));
      peak = backend.liveBytes() - base;
      plan.unusedInputs.forEach(release);
      plan.launches.forEach((l, i) => {
        const out = backend.dispatch(this.kernels[i]!, l.eqn.inputs.map((v) => env.get(v)!));
        env.set(l.eqn.out, out);
        peak = Math.max(peak, backend.liveBytes() - base);
        l.frees.forEach(release);
      });
      const outputs = await Promise.all(plan.graph.outputs.map((v) => backend.read(env.get(v)!)));
      return { outputs, stats: { peakBytes: peak, ms: performance.now() - t0 } };
    } finally {
      for (const b of new Set(env.values())) backend.free(b);
    }
  }
}
