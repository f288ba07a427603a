import { anon, dim, type Dim, type Shape } from "../../ir/dim.ts";
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

/** LowRank's factors of one map I → O: U [i, r], V [r, o]. */
export interface LowRankParams<I extends Dim = Dim, O extends Dim = Dim> {
  readonly U: Tensor<readonly [I, Dim<"r">]>;
  readonly V: Tensor<readonly [Dim<"r">, O]>;
}
/** nb diagonal blocks [nb, k_in, k_out] (all three axes anonymous: maps of different sizes pick their own nb). */
export type Blocks = Tensor<readonly [Dim<"_">, Dim<"_">, Dim<"_">]>;
/** BlockShuffle's two block-diagonal factors. */
export interface BlockShuffleParams {
  readonly shuffle1: Blocks;
  readonly shuffle2: Blocks;
}
/** BlockDense's block-diagonal factor and the dense [r, o] after it. */
export interface BlockDenseParams<O extends Dim = Dim> {
  readonly blocks: Blocks;
  readonly dense: Tensor<readonly [Dim<"r">, O]>;
}
/** One structured map I → O. */
export type StructuredParams<I extends Dim = Dim, O extends Dim = Dim> =
  LowRankParams<I, O> | BlockShuffleParams | BlockDenseParams<O>;

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

/** x [n, i] through nb diagonal blocks w [nb, ki, ko]: [n, i] -> [nb, n, ko] (block-major). */
function blockDiagonal<N extends Dim>(
  x2: Tensor<readonly [N, Dim]>,
  w: Blocks,
): Tensor<readonly [Dim<"_">, N, Dim<"_">]> {
  const [nb, ki] = [w.dims[0], w.dims[1]];
  const n = x2.dims[0];
  const grouped = op.transpose(op.reshape(x2, [n, nb, ki]), [1, 0, 2]); // [nb, n, ki]
  return op.matmul(grouped, w); // [nb, n, ko]
}

/** Block-major [nb, n, k] back to [n, nb·k]. */
const unblock = <N extends Dim>(z: Tensor<readonly [Dim, N, Dim]>): Tensor<readonly [N, Dim<"_">]> => {
  const [nb, n, k] = z.dims;
  return op.reshape(op.transpose(z, [1, 0, 2]), [n, anon(nb.size * k.size)]);
};

/** The structured map applied to x [..., n, i]: [..., n, o]. */
export function applyStructured<B extends Shape, N extends Dim, I extends Dim, O extends Dim>(
  x: Tensor<readonly [...B, N, I]>,
  w: StructuredParams<I, O>,
): Tensor<readonly [...B, N, O]> {
  if ("U" in w) return op.matmul(op.matmul(x, w.U), w.V);
  const x2 = op.flatten2d(x);
  let y: Tensor<readonly [Dim, O]>;
  if ("shuffle1" in w) {
    const z = blockDiagonal(x2, w.shuffle1); // [nb, n, kh]
    const [nb, n, kh] = z.dims;
    // the perfect shuffle: the hidden vector, an [nb, kh] grid block-major, is read out column-major
    const shuffled = op.reshape(op.transpose(z, [1, 2, 0]), [n, anon(nb.size * kh.size)]); // [n, kh·nb]
    const out: Tensor<readonly [Dim, Dim]> = unblock(blockDiagonal(shuffled, w.shuffle2));
    // the factors' axes are anonymous, so nothing names o: the width is o by construction (declareStructured)
    y = out as Tensor<readonly [Dim, O]>;
  } else {
    y = op.matmul(unblock(blockDiagonal(x2, w.blocks)), w.dense);
  }
  return op.unflatten2d(y, x);
}
