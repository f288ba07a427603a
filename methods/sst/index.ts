import type { Method } from "../method.ts";
import { makeSst } from "./model.ts";

/** Sparse Spectral Training (Zhao et al.). */
export const sst: Method = {
  name: "sst",
  summary: "SST: W = U·diag(Σ)·Vᵀ, all Σ and sampled singular vectors train, periodic re-SVD",
  build: (cfg) => makeSst(cfg),
};
