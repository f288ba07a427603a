import type { Method } from "../method.ts";
import { makeSst } from "./model.ts";

/** Sparse Spectral Training (Zhao et al.). */
export const sst: Method = {
  // U [in, r], Σ [r], V [out, r] as rankfuse keeps them: W = U·diag(Σ)·Vᵀ
  export: {
    architecture: "SSTForCausalLM",
    modelType: "sst",
    factors: { U: ["sst_u", false], S: ["sst_sigma", false], V: ["sst_v", false] },
    config: () => ({ computes: "((x @ sst_u) * sst_sigma) @ sst_v.T" }),
  },
  name: "sst",
  summary: "SST: W = U·diag(Σ)·Vᵀ, all Σ and sampled singular vectors train, periodic re-SVD",
  build: (cfg) => makeSst(cfg),
};
