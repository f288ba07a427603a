import { anon, dim, type Dim } from "../../ir/dim.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { normal, param, type ParamDecl } from "../../models/params.ts";

/**
 * Wei et al.'s structured linear maps for the MLP (PAPERS.md, code CLAIRE-Labo/StructuredFFN), each a
 * map [..., i] -> [..., o] in row-vector form:
 * - LowRank:      x·U·V, U [i, r], V [r, o].
 * - BlockShuffle: two block-diagonal factors with a perfect shuffle between them (Monarch-like):
 *                 nb blocks [i/nb, h/nb], the hidden h seen as an [nb, h/nb] grid is transposed, then nb
 *                 blocks [h/nb, o/nb]. h = r·nb, so it has LowRank-r's parameter count with an nb× wider middle.
 * - BlockDense:   nb blocks [i/nb, r/nb] (block-diagonal), then a dense [r, o].
 * With one block both block maps are x·W₁·W₂ (a rank-h / rank-r product); every map is linear, so each
 * equals the dense map x·M for the M that `denseEquivalent` (test-side) builds.
 */
export type StructuredKind = "lowRank" | "blockShuffle" | "blockDense";

export interface LowRankParams {
  readonly U: Tensor;
  readonly V: Tensor;
}
export interface BlockShuffleParams {
  readonly shuffle1: Tensor;
  readonly shuffle2: Tensor;
}
export interface BlockDenseParams {
  readonly blocks: Tensor;
  readonly dense: Tensor;
}
export type StructuredParams = LowRankParams | BlockShuffleParams | BlockDenseParams;

/** Default number of blocks (the largest divisor of the sizes at most this). */
export const DEFAULT_BLOCKS = 4;

/** The largest nb ≤ target dividing every size (1 always does). */
export function pickBlocks(target: number, ...sizes: number[]): number {
  for (let nb = Math.max(1, target); nb > 1; nb--) if (sizes.every((s) => s % nb === 0)) return nb;
  return 1;
}

/**
 * Factor std so a product of two factors with `inner` terms per entry has entries of std `std`
 * (like a dense N(0, std²) weight): each factor N(0, std/√inner).
 */
const factorStd = (std: number, inner: number) => Math.sqrt(std / Math.sqrt(inner));

/** The param declarations of one structured map i -> o at rank r; the LowRank factors are replaced by the SVD init. */
export function declareStructured(
  kind: StructuredKind,
  i: Dim,
  o: Dim,
  r: number,
  blocks = DEFAULT_BLOCKS,
  std = 0.02,
): Record<string, ParamDecl> {
  const R = dim("r", r);
  if (kind === "lowRank")
    return { U: param([i, R], normal(factorStd(std, r))), V: param([R, o], normal(factorStd(std, r))) };
  if (kind === "blockShuffle") {
    const nb = pickBlocks(blocks, i.size, o.size),
      kh = r; // h = r·nb
    const NB = anon(nb); // anonymous: maps of different sizes may pick different nb
    // an entry of the product sums over kh hidden units of one first-factor block
    return {
      shuffle1: param([NB, anon(i.size / nb), anon(kh)], normal(factorStd(std, kh))),
      shuffle2: param([NB, anon(kh), anon(o.size / nb)], normal(factorStd(std, kh))),
    };
  }
  const nb = pickBlocks(blocks, i.size, r);
  return {
    blocks: param([anon(nb), anon(i.size / nb), anon(r / nb)], normal(factorStd(std, r / nb))),
    dense: param([R, o], normal(factorStd(std, r / nb))),
  };
}

/** x [..., i] through nb diagonal blocks w [nb, ki, ko]: [..., i] -> [nb, n, ko] (block-major). */
function blockDiagonal(x2: Tensor, w: Tensor): Tensor {
  const [nb, ki] = [w.dims[0]!, w.dims[1]!];
  const n = x2.dims[0]!;
  const grouped = op.transpose(op.reshape(x2, [n, nb, ki]), [1, 0, 2]); // [nb, n, ki]
  return op.matmul(grouped, w as never); // [nb, n, ko]
}

/** Block-major [nb, n, k] back to [n, nb·k]. */
const unblock = (z: Tensor): Tensor => {
  const [nb, n, k] = z.dims as readonly Dim[];
  return op.reshape(op.transpose(z, [1, 0, 2]), [n!, anon(nb!.size * k!.size)]);
};

/** The structured map applied to x [..., i]. */
export function applyStructured(x: Tensor, w: StructuredParams): Tensor {
  if ("U" in w) return op.matmul(op.matmul(x, w.U as never), w.V as never);
  const lead = x.dims.slice(0, -1);
  const x2 = op.flatten2d(x);
  let y: Tensor;
  if ("shuffle1" in w) {
    const z = blockDiagonal(x2, w.shuffle1); // [nb, n, kh]
    const [nb, n, kh] = z.dims as readonly Dim[];
    // the perfect shuffle: the hidden vector, an [nb, kh] grid block-major, is read out column-major
    const shuffled = op.reshape(op.transpose(z, [1, 2, 0]), [n!, anon(nb!.size * kh!.size)]); // [n, kh·nb]
    y = unblock(blockDiagonal(shuffled, w.shuffle2));
  } else {
    y = op.matmul(unblock(blockDiagonal(x2, w.blocks)), w.dense as never);
  }
  return op.reshape(y, [...lead, y.dims[1]!]);
}
