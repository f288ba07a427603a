import * as E from "fp-ts/lib/Either.js";
import { COLA_EXPORT, colaModel } from "../cola/index.ts";
import type { Method } from "../method.ts";
import { colaMPolicy } from "./policy.ts";

/** CoLA-M: CoLA's model and gradients, storing only the rank-r activations and the block inputs. */
export const colaM: Method = {
  name: "colaM",
  summary: "CoLA-M: CoLA that recomputes in backward, storing only rank-r activations and block inputs",
  export: COLA_EXPORT, // the same model as CoLA: only what backward stores differs
  build: (cfg) => E.right(colaModel("colaM", cfg, colaMPolicy)),
};
