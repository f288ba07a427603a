import { outsOf, type Var } from "../ir/graph.ts";
import type { Launch, Plan } from "../passes/plan.ts";
import { prepareLaunch, type LaunchKernel } from "./lower.ts";
import type { Backend, HostTensor } from "../ir/backend.ts";

/** Per-primitive time, collected when RANKFUSE_PROFILE is set and printed to stderr at exit. */
class Profile {
  readonly ms = new Map<string, { ms: number; calls: number; flops: number }>();
  add(l: Launch, ms: number) {
    const key =
      process.env.RANKFUSE_PROFILE === "shapes"
        ? `${l.eqn.prim} ${l.eqn.inputs.map((v) => `[${v.shape}]`).join("")}`
        : l.eqn.prim;
    const e = this.ms.get(key) ?? { ms: 0, calls: 0, flops: 0 };
    this.ms.set(key, { ms: e.ms + ms, calls: e.calls + 1, flops: e.flops + l.flops });
  }
  toString(): string {
    const rows = [...this.ms.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const total = rows.reduce((s, [, e]) => s + e.ms, 0);
    return rows
      .map(
        ([p, e]) =>
          `${p.padEnd(process.env.RANKFUSE_PROFILE === "shapes" ? 40 : 12)} ${e.ms.toFixed(0).padStart(7)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}% ${String(e.calls).padStart(6)} calls ${(e.flops / e.ms / 1e6).toFixed(1).padStart(7)} GFLOP/s`,
      )
      .join("\n");
  }
}
export const profile = process.env.RANKFUSE_PROFILE ? new Profile() : null;
// the table goes to stderr when the process ends, so any program (CLI, benchmark, a user's script) shows it
if (profile) process.once("exit", () => profile.ms.size && console.error(`[rankfuse] profile:\n${profile.toString()}`));

/** What one run measured: peak bytes held by the backend, wall time and the bytes that crossed to and from it. */
export interface RunStats {
  /** Measured peak of the bytes the backend held above what it held before the run. */
  readonly peakBytes: number;
  readonly ms: number;
  /** Bytes written from the host into the backend (host inputs). */
  readonly bytesWritten: number;
  /** Bytes read back from the backend to the host (outputs not kept on it). */
  readonly bytesRead: number;
}

/**
 * An input already on the backend (a parameter or a moment that lives there between steps). `donate`
 * hands the buffer to the run, which frees it after its last use (the caller no longer holds it, as
 * JAX's donated arguments); otherwise it is only lent and stays the caller's.
 */
export interface ResidentInput<B> {
  readonly resident: B;
  readonly donate?: boolean;
}

/** One input of a run: host data to write, or a buffer already on the backend. */
export type RunInput<B> = HostTensor | ResidentInput<B>;

const isResident = <B>(x: RunInput<B>): x is ResidentInput<B> => typeof x === "object" && x !== null && "resident" in x;

/** An output of a run: read back to the host, or (where kept) the backend buffer, now the caller's. */
export type RunOutput<B> = Float32Array | Float64Array | Int32Array | B;

const bytesOf = (a: { byteLength: number }) => a.byteLength;

/**
 * Runs a plan on a backend: writes the host inputs, dispatches each launch, frees every buffer right
 * after its last use, reads the outputs back (or hands kept ones to the caller). Kernels are prepared
 * once per plan.
 */
export class Executor<B> {
  private readonly kernels: LaunchKernel<B>[];

  constructor(
    readonly plan: Plan,
    readonly backend: Backend<B>,
  ) {
    this.kernels = plan.launches.map((l) => prepareLaunch(backend, l.eqn));
  }

  /** Host inputs in, host outputs out. */
  async run(
    inputs: readonly HostTensor[],
  ): Promise<{ outputs: (Float32Array | Float64Array | Int32Array)[]; stats: RunStats }> {
    const r = await this.runOn(inputs, []);
    return r as { outputs: (Float32Array | Float64Array | Int32Array)[]; stats: RunStats };
  }

  /**
   * Inputs from the host or already on the backend; `keep[i]` leaves output i on the backend (the
   * caller frees it) instead of reading it back. Only host inputs and read outputs cross, and the
   * stats count their bytes.
   */
  async runOn(
    inputs: readonly RunInput<B>[],
    keep: readonly boolean[],
  ): Promise<{ outputs: RunOutput<B>[]; stats: RunStats }> {
    const { plan, backend } = this;
    await backend.activate?.();
    const t0 = performance.now();
    const base = backend.liveBytes();
    const env = new Map<Var, B>();
    // buffers the run must not free: lent inputs, and (once made) the outputs it hands over
    const held = new Set<B>();
    let peak = 0;
    let bytesWritten = 0;
    const release = (v: Var) => {
      const b = env.get(v);
      if (b !== undefined && !plan.graph.outputs.includes(v) && !held.has(b)) {
        backend.free(b);
        env.delete(v);
      }
    };
    try {
      plan.graph.inputs.forEach((v, i) => {
        const x = inputs[i]!;
        if (isResident(x)) {
          if (!x.donate) held.add(x.resident);
          env.set(v, x.resident);
        } else {
          bytesWritten += bytesOf(x.data);
          env.set(v, backend.write(x));
        }
      });
      peak = backend.liveBytes() - base;
      plan.unusedInputs.forEach(release);
      plan.launches.forEach((l, i) => {
        const t = profile ? performance.now() : 0;
        const outs = this.kernels[i]!(l.eqn.inputs.map((v) => env.get(v)!));
        if (profile) profile.add(l, performance.now() - t);
        outsOf(l.eqn).forEach((v, j) => env.set(v, outs[j]!));
        peak = Math.max(peak, backend.liveBytes() - base);
        l.frees.forEach(release);
      });
      const outputs = await Promise.all(
        plan.graph.outputs.map((v, i) => (keep[i] ? env.get(v)! : backend.read(env.get(v)!))),
      );
      plan.graph.outputs.forEach((v, i) => keep[i] && held.add(env.get(v)!));
      const bytesRead = outputs.reduce((s: number, o, i) => s + (keep[i] ? 0 : bytesOf(o as Float32Array)), 0);
      return { outputs, stats: { peakBytes: peak, ms: performance.now() - t0, bytesWritten, bytesRead } };
    } finally {
      for (const b of new Set(env.values())) if (!held.has(b)) backend.free(b);
    }
  }
}
