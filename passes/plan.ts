import {
  isFused,
  lastUses,
  outsOf,
  showAbs,
  showFusedHead,
  type AbsVal,
  type Graph,
  type Node,
  type Var,
} from "../ir/graph.ts";
import { numel } from "../ir/dim.ts";
import { nodeBytes, nodeFlops } from "./cost.ts";

/** One kernel launch: the equation (or fused node) it computes and the buffers that die right after it. */
export interface Launch {
  readonly eqn: Node;
  readonly frees: readonly Var[];
  readonly flops: number;
  readonly bytes: number;
}

/**
 * An ordered list of kernel launches with alloc/free points (from liveness) and the predicted cost:
 * FLOPs, bytes moved and peak memory, counting every live buffer at 4 bytes a value.
 */
export class Plan {
  constructor(
    readonly graph: Graph<Node>,
    readonly launches: readonly Launch[],
    /** Inputs no equation reads: freed as soon as they are written. */
    readonly unusedInputs: readonly Var[],
    readonly predictedPeakBytes: number,
  ) {}

  get flops(): number {
    return this.launches.reduce((s, l) => s + l.flops, 0);
  }
  get bytesMoved(): number {
    return this.launches.reduce((s, l) => s + l.bytes, 0);
  }
  get kernelCount(): number {
    return this.launches.length;
  }
  get fusedCount(): number {
    return this.launches.filter((l) => isFused(l.eqn)).length;
  }

  toString(): string {
    const fused = this.fusedCount;
    const lines = [
      `plan: ${this.kernelCount} kernels${fused ? ` (${fused} fused)` : ""}, ${fmt(this.flops)}FLOP, ${fmt(this.bytesMoved)}B moved, predicted peak ${fmt(this.predictedPeakBytes)}B`,
      `  inputs: ${this.graph.inputs.map((v) => `${v}:${showAbs(v.abs)}`).join(" ")}`,
    ];
    this.launches.forEach((l, i) => {
      const frees = l.frees.length ? `  free ${l.frees.join(" ")}` : "";
      const cost = `  [${fmt(l.flops)}FLOP ${fmt(l.bytes)}B]`;
      const e = l.eqn;
      if (isFused(e)) {
        lines.push(`  ${String(i).padStart(3)} ${showFusedHead(e)}${cost}${frees}`);
        lines.push(`        (one kernel for ${e.body.eqns.map((b) => b.prim).join(" → ")})`);
      } else
        lines.push(
          `  ${String(i).padStart(3)} ${e.out} = ${e.prim}(${e.inputs.join(", ")}) -> ${showAbs(e.out.abs)}${cost}${frees}`,
        );
    });
    lines.push(`  outputs: ${this.graph.outputs.join(" ")}`);
    return lines.join("\n");
  }
}

/** `bytesPerValue` is 4 for float32 backends and 8 for the float64 reference. */
export function makePlan(graph: Graph<Node>, bytesPerValue = 4): Plan {
  const absBytes = (a: AbsVal) => numel(a.dims) * bytesPerValue;
  const last = lastUses(graph);
  const byStep = new Map<number, Var[]>();
  for (const [v, i] of last) if (i < graph.eqns.length) byStep.set(i, [...(byStep.get(i) ?? []), v]);
  const unusedInputs = graph.inputs.filter((v) => !last.has(v));

  let live = graph.inputs.reduce((s, v) => s + absBytes(v.abs), 0);
  let peak = live;
  live -= unusedInputs.reduce((s, v) => s + absBytes(v.abs), 0);
  const launches = graph.eqns.map((eqn, i) => {
    const outs = outsOf(eqn);
    live += outs.reduce((s, v) => s + absBytes(v.abs), 0);
    peak = Math.max(peak, live);
    const frees = [...new Set(byStep.get(i) ?? [])];
    // an output nobody reads is freed at once
    for (const v of outs) if (!last.has(v)) frees.push(v);
    live -= frees.reduce((s, v) => s + absBytes(v.abs), 0);
    return { eqn, frees, flops: nodeFlops(eqn), bytes: nodeBytes(eqn) };
  });
  return new Plan(graph, launches, unusedInputs, peak);
}

/** 1.2M, 3.4G: SI prefixes for plans and tables. */
export function fmt(n: number): string {
  const units = ["", "K", "M", "G", "T", "P"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) ((n /= 1000), i++);
  return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)}${units[i]}`;
}
