import { BLOCK_INPUT, COLA_ACT, HEAD_LOGITS, saveNames, type RematPolicy } from "../../passes/remat.ts";

/**
 * CoLA-M: saves the rank-r activation of every CoLA projection and the block inputs; the
 * up-projections, RoPE, attention, norms and products are recomputed in backward. Two choices go beyond
 * PAPERS.md's wording, both for speed at no memory cost:
 * - the rank-r value kept is z = x·A, before the activation, not σ(z): backward needs σ'(z), which SiLU
 *   cannot give back from σ(z), so keeping σ(z) would recompute x·A too (a third of the recompute in
 *   tiny); from z both σ(z) and σ'(z) are one elementwise pass. Same n·r values per projection.
 * - the head's logits are kept, as under per-block checkpointing (JAX's `checkpoint` on each block):
 *   the loss's backward reads them first, so they are alive at the forward/backward turn anyway, and
 *   recomputing them (n·d·vocab multiply-adds, most of the recompute at vocabulary 32000) buys no peak.
 */
export const colaMPolicy: RematPolicy = { ...saveNames(BLOCK_INPUT, COLA_ACT, HEAD_LOGITS), name: "colaM" };
