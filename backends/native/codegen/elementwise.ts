import * as E from "fp-ts/lib/Either.js";
import { sizes } from "../../../ir/dim.ts";
import type { FusedEqn } from "../../../ir/graph.ts";
import type { GeneratedKernel, NativeAddon } from "../build.ts";
import { broadcastStrides, type NativeCtx, type NBuf } from "../kernels.ts";
import { kernelLibrary } from "./compile.ts";
import { canEmit, emitElementwise, KERNEL_SYMBOL } from "./emit.ts";

/** Counts of this process's generated kernels (what tests check the caching by). */
export const codegenStats = { compiled: 0, fromDisk: 0, fromMemory: 0, failed: 0 };

const loaded = new Map<string, E.Either<string, GeneratedKernel>>();

/** The loaded kernel of a source: compiled or loaded at most once per process (failures included). */
export function loadGenerated(addon: NativeAddon, source: string): E.Either<string, GeneratedKernel> {
  const key = `${process.env.RANKFUSE_CODEGEN_CXX ?? process.env.CXX ?? ""}\0${source}`;
  const known = loaded.get(key);
  if (known) {
    codegenStats.fromMemory++;
    return known;
  }
  const lib = kernelLibrary(source);
  let result: E.Either<string, GeneratedKernel>;
  if (E.isLeft(lib)) result = lib;
  else {
    try {
      result = E.right(addon.loadKernel(lib.right.path, KERNEL_SYMBOL));
      if (lib.right.fromCache) codegenStats.fromDisk++;
      else codegenStats.compiled++;
    } catch (e) {
      result = E.left(`loading ${lib.right.path} failed: ${(e as Error).message}`);
    }
  }
  if (E.isLeft(result)) codegenStats.failed++;
  loaded.set(key, result);
  return result;
}

/** The generated C++ of a fused elementwise node (what RANKFUSE_DEBUG=4 prints), if it has one. */
export function elementwiseSource(node: FusedEqn): string | undefined {
  return canEmit(node.body.eqns) ? emitElementwise(node) : undefined;
}

/**
 * One generated kernel for a fused elementwise node, or the reason there is none (no compiler, a
 * failed compile, an op the generator lacks): the caller then runs the node by its parts.
 */
export function nativeElementwise(
  ctx: NativeCtx,
  node: FusedEqn,
): E.Either<string, (inputs: readonly NBuf[]) => NBuf[]> {
  const source = elementwiseSource(node);
  if (source === undefined) return E.left("an op in the group has no generated form");
  const kernel = loadGenerated(ctx.addon, source);
  if (E.isLeft(kernel)) return kernel;
  const shape = sizes(node.out.abs.dims);
  const meta = Int32Array.from([
    shape.length,
    ...shape,
    ...node.inputs.flatMap((v) => [...broadcastStrides(sizes(v.abs.dims), shape)]),
  ]);
  const count = shape.reduce((p, q) => p * q, 1);
  return E.right((inputs) => {
    const outs = node.outs.map(() => ctx.pool.f32(count));
    ctx.addon.runKernel(kernel.right, inputs as Float32Array[], outs, meta);
    return outs;
  });
}
