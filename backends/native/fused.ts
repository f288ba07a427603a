import { numel } from "../../ir/dim.ts";
import type { FusedEqn, Var } from "../../ir/graph.ts";
import {
  ATTENTION,
  ATTENTION_BWD,
  ELEMENTWISE,
  isAttention,
  isAttentionBwd,
  isLowrank,
  isLowrankBwd,
  isLowrankTail,
  isRopeHeads,
  LOWRANK,
  LOWRANK_BWD,
  LOWRANK_TAIL,
  MATMUL_ADD,
  MATMUL_EPILOGUE,
  ROPE_HEADS,
  ROW,
  ROW_COLUMNS,
  type ChainAct,
} from "../../ir/fusedKinds.ts";
import { nativeMatmulAdd } from "./matmulAdd.ts";
import { BinaryOp, UnaryOp } from "./build.ts";
import type { NativeCtx, NBuf } from "./kernels.ts";

/**
 * The fused kinds the addon runs as one kernel: chains (lowrank.cc, attention.cc, which also reads and
 * writes the head-split layout), rope on that layout (rows.cc), elementwise and row groups (a kernel
 * generated for each, backends/native/codegen) and matmuls that accumulate onto a value (gemm.cc's
 * matmul from an initial value) or feed an elementwise epilogue (matmul_epilogue.cc with a generated kernel).
 */
export const NATIVE_FUSED_KINDS: ReadonlySet<string> = new Set([
  LOWRANK,
  LOWRANK_TAIL,
  LOWRANK_BWD,
  ATTENTION,
  ATTENTION_BWD,
  ELEMENTWISE,
  MATMUL_ADD,
  MATMUL_EPILOGUE,
  ROPE_HEADS,
  ROW,
  ROW_COLUMNS,
]);
/**
 * The largest rank the planner fuses for this engine. The kernels take any rank, but the larger the
 * rank, the closer the unfused GEMMs run to full speed and the less fusing saves: `npm run bench --
 * fusion` / `-- native`, 2 cores, unfused/fused time over three runs: forward r 64 (tiny) 1.36-1.44x;
 * forward+backward r 128 (60M) 0.99-1.31x, r 256 (350M) 0.96-1.06x, r 512 (1B) 0.92-0.98x. So ranks
 * above 256 stay unfused.
 */
export const NATIVE_MAX_FUSED_RANK = 256;

const ACT: Record<ChainAct, number> = { identity: 0, silu: UnaryOp.silu, gelu: UnaryOp.gelu, relu: UnaryOp.relu };
const NONE = new Float32Array(0);

/** Buffers of a fused node by role name: inputs (absent: empty) and freshly pooled outputs. */
function roles(node: FusedEqn) {
  const { inputNames, outputNames } = node.params;
  const input = (inputs: readonly NBuf[], name: string) => {
    const i = inputNames.indexOf(name);
    return i < 0 ? NONE : (inputs[i] as Float32Array);
  };
  const outVar = (name: string): Var | undefined => node.outs[outputNames.indexOf(name)];
  const inVar = (name: string): Var | undefined => node.inputs[inputNames.indexOf(name)];
  return { input, outVar, inVar };
}

/** One native kernel for a fused node: the addon computes the whole chain tile by tile. */
export function nativeFused(ctx: NativeCtx, node: FusedEqn): (inputs: readonly NBuf[]) => NBuf[] {
  const { input, outVar, inVar } = roles(node);
  const alloc = () => node.outs.map((v) => ctx.pool.f32(numel(v.abs.dims)));
  const out = (bufs: Float32Array[], name: string) => {
    const i = node.params.outputNames.indexOf(name);
    return i < 0 ? NONE : bufs[i]!;
  };
  if (node.params.kind === MATMUL_ADD) return nativeMatmulAdd(ctx, node);
  if (isLowrank(node)) {
    const [dIn, r] = inVar("A")!.shape as [number, number];
    const dOut = inVar("B")!.shape[1]!;
    const n = numel(inVar("x")!.abs.dims) / Math.max(dIn, 1);
    const epi = node.params.epilogue === "mul" ? BinaryOp.mul : BinaryOp.add;
    const sizes = Int32Array.from([n, dIn, r, dOut, ACT[node.params.act], epi]);
    return (inputs) => {
      const bufs = alloc();
      ctx.addon.lowrankForwardEx(
        input(inputs, "x"),
        input(inputs, "A"),
        input(inputs, "B"),
        input(inputs, "e"),
        out(bufs, "y"),
        out(bufs, "z"),
        out(bufs, "h"),
        sizes,
      );
      return bufs;
    };
  }
  if (isLowrankTail(node)) {
    const [r, dOut] = inVar("B")!.shape as [number, number];
    const n = numel(inVar("x")!.abs.dims.slice(0, -1));
    const epi = node.params.epilogue === "mul" ? BinaryOp.mul : BinaryOp.add;
    const sizes = Int32Array.from([n, r, dOut, ACT[node.params.act], epi]);
    return (inputs) => {
      const bufs = alloc();
      ctx.addon.lowrankTailForward(
        input(inputs, "x"),
        input(inputs, "B"),
        input(inputs, "e"),
        out(bufs, "y"),
        out(bufs, "h"),
        sizes,
      );
      return bufs;
    };
  }
  if (isLowrankBwd(node)) {
    const [r, dOut] = inVar("B")!.shape as [number, number];
    const n = numel(inVar("dY")!.abs.dims) / Math.max(dOut, 1);
    const dIn = inVar("A")?.shape[0] ?? outVar("dA")?.shape[0] ?? 0;
    const sizes = Int32Array.from([n, dIn, r, dOut, ACT[node.params.act]]);
    return (inputs) => {
      const bufs = alloc();
      const i = (name: string) => input(inputs, name);
      ctx.addon.lowrankBackward(
        i("dY"),
        i("B"),
        i("z"),
        i("A"),
        i("acc"),
        i("x"),
        i("h"),
        out(bufs, "dX"),
        out(bufs, "dA"),
        out(bufs, "dB"),
        out(bufs, "dZ"),
        sizes,
      );
      return bufs;
    };
  }
  if (isRopeHeads(node)) {
    // x [..., T, H, Dh]
    const [T, H, Dh] = inVar("x")!.shape.slice(-3) as [number, number, number];
    const rows = numel(inVar("x")!.abs.dims) / Math.max(Dh, 1);
    const at = { before: 0, none: 1, after: 2 }[node.params.scale];
    const sizes = Int32Array.from([rows, T, H, Dh, at]);
    const { base, inverse } = node.params;
    return (inputs) => {
      const bufs = alloc();
      const c = node.params.scale === "none" ? 1 : input(inputs, "c")[0]!;
      ctx.addon.ropeHeads(input(inputs, "x"), bufs[0]!, sizes, base, inverse, c);
      return bufs;
    };
  }
  if (isAttention(node) || isAttentionBwd(node)) {
    // q [..., T, dk] and v [..., T, dv]: bh slices of T rows; or, in the head-split layout, q
    // [..., T, H, dk] and v [..., T, H, dv]: bh = (leading size) · H slices, rows H · d apart
    const heads = node.params.layout === "bthd";
    const q = inVar("q")!.shape;
    const [T, dk] = (heads ? [q.at(-3), q.at(-1)] : q.slice(-2)) as [number, number];
    const dv = inVar("v")!.shape.at(-1)!;
    const H = heads ? q.at(-2)! : 0;
    const bh = q.slice(0, heads ? -3 : -2).reduce((p, s) => p * s, 1) * (heads ? H : 1);
    const sizes = Int32Array.from([bh, T, dk, dv, H]);
    const i = (inputs: readonly NBuf[], name: string) => input(inputs, name);
    if (isAttention(node))
      return (inputs) => {
        const bufs = alloc();
        ctx.addon.attentionForward(
          i(inputs, "q"),
          i(inputs, "k"),
          i(inputs, "v"),
          out(bufs, "O"),
          out(bufs, "P"),
          sizes,
        );
        return bufs;
      };
    return (inputs) => {
      const bufs = alloc();
      ctx.addon.attentionBackward(
        i(inputs, "q"),
        i(inputs, "k"),
        i(inputs, "v"),
        i(inputs, "dO"),
        i(inputs, "P"),
        out(bufs, "dQ"),
        out(bufs, "dK"),
        out(bufs, "dV"),
        sizes,
      );
      return bufs;
    };
  }
  throw new Error(`native: no fused kernel of kind ${node.params.kind}`);
}
