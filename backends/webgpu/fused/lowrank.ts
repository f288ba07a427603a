import * as tf from "@tensorflow/tfjs-core";
import { numel } from "../../../ir/dim.ts";
import type { FusedEqn, Var } from "../../../ir/graph.ts";
import { isLowrank, isLowrankBwd, isLowrankTail, LOWRANK, LOWRANK_BWD, LOWRANK_TAIL } from "../../../ir/fusedKinds.ts";
import { flatGrid, type FusedLaunch, type FusedProgram } from "./program.ts";
import { TokenReduceProgram } from "./reduce.ts";
import { RowChainProgram } from "./rowChain.ts";
import type { FusedRunner } from "./runner.ts";
import { reduceTile, rowChainTile, type DeviceLimits } from "./tiling.ts";

/** The chain kinds the webgpu backend runs as its own WGSL kernels. */
export const WEBGPU_FUSED_KINDS: ReadonlySet<string> = new Set([LOWRANK, LOWRANK_TAIL, LOWRANK_BWD]);

/**
 * The launches of one fused node: a forward chain (or tail link) is one row-chain dispatch; a backward chain is a
 * row-chain dispatch for dZ (and dX), then one token reduction each for dA and dB: at most three.
 * Each step names its buffers by role: a node input, a node output, or a temporary (dZ when only dA
 * reads it).
 */
interface Step {
  readonly launch: FusedLaunch;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

interface Roles {
  readonly inVar: (name: string) => Var | undefined;
  readonly outVar: (name: string) => Var | undefined;
}

const rolesOf = (node: FusedEqn): Roles => ({
  inVar: (name) => node.inputs[node.params.inputNames.indexOf(name)],
  outVar: (name) => node.outs[node.params.outputNames.indexOf(name)],
});

const lead = (v: Var) => numel(v.shape.slice(0, -1));

/** One row-chain dispatch over n rows, `tile.rows` rows a workgroup. */
const rowChainStep = (program: RowChainProgram, n: number, rows: number, maxDim: number, uniforms: number[]): Step => ({
  launch: { program, dispatch: flatGrid(Math.ceil(n / rows), maxDim), uniforms },
  inputs: program.variableNames,
  outputs: program.outputNames,
});

function plan(node: FusedEqn, limits: DeviceLimits): { steps: Step[]; temps: Map<string, number[]> } {
  const { inVar, outVar } = rolesOf(node);
  const has = (name: string) => outVar(name) !== undefined;
  const temps = new Map<string, number[]>();
  const maxDim = limits.maxComputeWorkgroupsPerDimension;
  const by4 = (...widths: number[]) => widths.every((w) => w > 0 && w % 4 === 0);
  const rowTile = (r: number) => {
    const t = rowChainTile(r, limits);
    if (!t)
      throw new Error(
        `webgpu: rank ${r} does not fit a fused kernel on this device (caps.maxFusedRank says so; the planner should not have fused it)`,
      );
    return t;
  };
  if (isLowrank(node)) {
    const { act, epilogue } = node.params;
    const [dIn, r] = inVar("A")!.shape as [number, number];
    const dOut = inVar("B")!.shape[1]!;
    const n = lead(inVar("x")!);
    const tile = rowTile(r);
    const program = new RowChainProgram({
      direction: "forward",
      act,
      epilogue,
      writeMid: has("z"),
      writeH: has("h"),
      second: true,
      tile,
      vec4: by4(dIn, r, dOut),
    });
    return { steps: [rowChainStep(program, n, tile.rows, maxDim, [n, dIn, r, dOut])], temps };
  }
  if (isLowrankTail(node)) {
    const { act, epilogue } = node.params;
    const [r, dOut] = inVar("B")!.shape as [number, number];
    const n = lead(inVar("x")!);
    const tile = rowTile(r);
    const program = new RowChainProgram({
      direction: "forward",
      act,
      epilogue,
      writeMid: false,
      writeH: has("h"),
      second: true,
      tail: true,
      tile,
      vec4: by4(r, dOut),
    });
    return { steps: [rowChainStep(program, n, tile.rows, maxDim, [n, r, r, dOut])], temps };
  }
  if (isLowrankBwd(node)) {
    const { act } = node.params;
    const [r, dOut] = inVar("B")!.shape as [number, number];
    const n = lead(inVar("dY")!);
    const dIn = inVar("A")?.shape[0] ?? outVar("dA")?.shape[0] ?? 0;
    const steps: Step[] = [];
    const needDZ = has("dZ") || has("dA");
    if (has("dA") && !has("dZ")) temps.set("dZ", [n, r]);
    if (has("dX") || needDZ) {
      const tile = rowTile(r);
      const program = new RowChainProgram({
        direction: "backward",
        act,
        epilogue: inVar("acc") ? "add" : "none",
        writeMid: needDZ,
        writeH: false,
        second: has("dX"),
        tile,
        vec4: by4(dIn, r, dOut),
      });
      steps.push(rowChainStep(program, n, tile.rows, maxDim, [n, dOut, r, dIn]));
    }
    const reduce = (names: [string, string, string], p: number, q: number) => {
      const program = new TokenReduceProgram(names, reduceTile(limits)!, by4(p, q));
      steps.push({
        launch: { program, dispatch: program.grid(p, q), uniforms: [n, p, q] },
        inputs: program.variableNames,
        outputs: program.outputNames,
      });
    };
    if (has("dA")) reduce(["x", "dZ", "dA"], dIn, r);
    if (has("dB")) reduce(["h", "dY", "dB"], r, dOut);
    return { steps, temps };
  }
  throw new Error(`webgpu: no fused kernel of kind ${node.params.kind}`);
}

/** The programs a fused node runs (for RANKFUSE_DEBUG=4 and tests), without running anything. */
export function fusedPrograms(node: FusedEqn, limits: DeviceLimits): FusedProgram[] {
  return plan(node, limits).steps.map((s) => s.launch.program);
}

/** One fused node as WebGPU dispatches: tensors in (the node's inputs), tensors out (its outputs, in order). */
export function webgpuFused(
  runner: FusedRunner,
  limits: DeviceLimits,
  node: FusedEqn,
): (inputs: readonly tf.Tensor[]) => tf.Tensor[] {
  const { steps, temps } = plan(node, limits);
  const { inputNames, outputNames } = node.params;
  return (inputs) => {
    const env = new Map<string, tf.Tensor>(inputNames.map((name, i) => [name, inputs[i]!]));
    const outs = node.outs.map((v, i) => {
      const t = runner.output(v.shape);
      env.set(outputNames[i]!, t);
      return t;
    });
    const scratch = [...temps].map(([name, shape]) => {
      const t = runner.output(shape);
      env.set(name, t);
      return t;
    });
    const get = (name: string) => env.get(name) ?? fail(node, name);
    for (const s of steps) runner.run(s.launch, s.inputs.map(get), s.outputs.map(get));
    scratch.forEach((t) => t.dispose()); // the runner marked them in use by the queue: released after submit
    return outs;
  };
}

function fail(node: FusedEqn, name: string): never {
  throw new Error(
    `webgpu fused ${node.params.kind}: no buffer for ${name} (inputs ${node.params.inputNames}, outputs ${node.params.outputNames})`,
  );
}
