/**
 * Every method rankfuse trains, in one list: `train --method`, `compare --methods`, the playground and
 * the benchmarks read it. Adding a method is one folder (methods/<name>/index.ts exporting a `Method`:
 * its model from models/ building blocks, its remat policy, its training scheme) plus one line here.
 */
import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";
import type { ModelConfig } from "../models/config.ts";
import type { TrainableModel } from "../train/scheme.ts";
import { buildModel, type Method } from "./method.ts";
import { full } from "./full/index.ts";
import { cola } from "./cola/index.ts";
import { colaM } from "./colaM/index.ts";
import { crnet } from "./crnet/index.ts";
import { relora } from "./relora/index.ts";
import { dynamic } from "./dynamic/index.ts";
import { fira } from "./fira/index.ts";
import { sst } from "./sst/index.ts";
import {
  blockDenseFfn,
  blockDenseFfnGuided,
  blockShuffleFfn,
  blockShuffleFfnGuided,
  lowrankFfn,
  lowrankFfnGuided,
} from "./structuredFfn/index.ts";

/** The built-in methods, in the order help texts list them. */
export const METHOD_LIST: readonly Method[] = [
  full,
  cola,
  colaM,
  crnet,
  relora,
  dynamic,
  fira,
  sst,
  lowrankFfn,
  blockShuffleFfn,
  blockDenseFfn,
  lowrankFfnGuided,
  blockShuffleFfnGuided,
  blockDenseFfnGuided,
];

/** The built-in methods' names. */
export const METHODS: readonly string[] = METHOD_LIST.map((m) => m.name);

/** The method of that name, or a ConfigError listing the choices. */
export function findMethod(name: string): E.Either<RankfuseError, Method> {
  const m = METHOD_LIST.find((x) => x.name === name);
  return m
    ? E.right(m)
    : E.left({ tag: "ConfigError", message: `unknown model "${name}": choose one of ${METHODS.join(", ")}` });
}

/** Builds a method's model (with its training scheme, where it has one) for a validated config. */
export const makeModel = (method: string, cfg: ModelConfig): E.Either<RankfuseError, TrainableModel> =>
  E.flatMap((m: Method) => buildModel(m, cfg))(findMethod(method));

export type { Method } from "./method.ts";
