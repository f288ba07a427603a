import type { Method } from "../method.ts";
import type { StructuredKind } from "./layers.ts";
import { makeStructuredFfn } from "./model.ts";

const structured = (name: string, kind: StructuredKind, guided: boolean, summary: string): Method => ({
  name,
  summary,
  build: (cfg) => makeStructuredFfn(cfg, kind, { guided }),
});

/** Structured FFNs (Wei et al.): dense attention, and MLP maps that are low-rank or block-structured. */
export const lowrankFfn = structured(
  "lowrankFfn",
  "lowRank",
  false,
  "low-rank MLP maps U·V (from the SVD of a dense init)",
);
export const blockShuffleFfn = structured(
  "blockShuffleFfn",
  "blockShuffle",
  false,
  "block-diagonal MLP factors with a shuffle between them",
);
export const blockDenseFfn = structured("blockDenseFfn", "blockDense", false, "block-diagonal then dense MLP maps");
/** The same maps trained self-guided: beside a dense guide whose weight α decays 1 → 0 over the first half. */
export const lowrankFfnGuided = structured(
  "lowrankFfnGuided",
  "lowRank",
  true,
  "lowrankFfn trained self-guided by a decaying dense guide",
);
export const blockShuffleFfnGuided = structured(
  "blockShuffleFfnGuided",
  "blockShuffle",
  true,
  "blockShuffleFfn trained self-guided by a decaying dense guide",
);
export const blockDenseFfnGuided = structured(
  "blockDenseFfnGuided",
  "blockDense",
  true,
  "blockDenseFfn trained self-guided by a decaying dense guide",
);
