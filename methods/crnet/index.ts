import type { Method } from "../method.ts";
import { makeCrnet } from "./model.ts";

/** CR-Net (Kong et al.): cross-layer low-rank residuals, trained under its inversion recompute policy. */
export const crnet: Method = {
  name: "crnet",
  summary: "CR-Net: each later layer's projections add a low-rank term to the scaled previous layer's output",
  build: (cfg) => makeCrnet(cfg),
};
