import type * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";
import type { ModelConfig } from "../models/config.ts";
import type { TrainableModel } from "../train/scheme.ts";

/**
 * A pre-training method as the CLI, the playground and the benchmarks see it: a name, one line that
 * says what it is, and a builder from a validated config to its model (with its remat policy) and, for
 * some, its training scheme. Each folder of methods/ exports one or more; methods/index.ts lists them.
 */
export interface Method {
  readonly name: string;
  /** One line for `--help`, the playground's method list and reports. */
  readonly summary: string;
  build(cfg: ModelConfig): E.Either<RankfuseError, TrainableModel>;
}
