import * as E from "fp-ts/lib/Either.js";
import { colaModel } from "../cola/index.ts";
import type { Method } from "../method.ts";
import { colaMPolicy } from "./policy.ts";

/** CoLA-M: CoLA's model and gradients, storing only the rank-r activations and the block inputs. */
export const colaM: Method = {
  name: "colaM",
  summary: "CoLA-M: CoLA that recomputes in backward, storing only rank-r activations and block inputs",
  build: (cfg) => E.right(colaModel("colaM", cfg, colaMPolicy)),
};
