import type { Method } from "../method.ts";
import { makeCrnet } from "./model.ts";

/** CR-Net (Kong et al.): cross-layer low-rank residuals, trained under its inversion recompute policy. */
export const crnet: Method = {
  // layer 1's projections are dense weights; later layers' are the low-rank residual's factors and β
  export: {
    architecture: "CRNetForCausalLM",
    modelType: "crnet",
    factors: { A: ["crnet_a", false], B: ["crnet_b", false], beta: ["crnet_beta", false] },
    config: (cfg) => ({
      rank: cfg.rank,
      computes:
        "Y_1 = X_1 @ weight.T; Y_l = s(crnet_beta) * Y_(l-1) + X_l @ crnet_a @ crnet_b, s(b) = sign(b) * (|b| + 1e-6)",
    }),
  },
  name: "crnet",
  summary: "CR-Net: each later layer's projections add a low-rank term to the scaled previous layer's output",
  build: (cfg) => makeCrnet(cfg),
};
