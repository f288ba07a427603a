import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";
import type { ModelConfig } from "../models/config.ts";
import type { TrainableModel } from "../train/scheme.ts";
import type { ExportSpec } from "./exportSpec.ts";

/**
 * A pre-training method as the CLI, the playground and the benchmarks see it: a name, one line that
 * says what it is, and a builder from a validated config to its model (with its remat policy) and, for
 * some, its training scheme. Each folder of methods/ exports one or more; methods/index.ts lists them.
 * A user's method is the same thing in a file of their own (`--method ./my-method.ts`).
 */
export interface Method {
  /** Letters, digits, `_`, `.`, `-`: it labels logs, checkpoints, exports and compare's folders. */
  readonly name: string;
  /** One line for `--help`, the playground's method list and reports. */
  readonly summary: string;
  /**
   * The model for a validated config: the model itself, or an Either whose Left (a ConfigError) says
   * why this method cannot take the config.
   */
  build(cfg: ModelConfig): TrainableModel | E.Either<RankfuseError, TrainableModel>;
  /** How `export` names its weights and describes it (exportSpec.ts); absent: its rankfuse names. */
  readonly export?: ExportSpec;
}

/** Whether a build's result is an Either rather than a model. */
export const isEither = (x: unknown): x is E.Either<unknown, unknown> =>
  typeof x === "object" &&
  x !== null &&
  (((x as { _tag?: unknown })._tag === "Right" && "right" in x) ||
    ((x as { _tag?: unknown })._tag === "Left" && "left" in x));

/** A method's model for a config, as an Either (whichever of the two forms its build returns). */
export function buildModel(method: Method, cfg: ModelConfig): E.Either<RankfuseError, TrainableModel> {
  const r = method.build(cfg);
  return isEither(r) ? (r as E.Either<RankfuseError, TrainableModel>) : E.right(r);
}
