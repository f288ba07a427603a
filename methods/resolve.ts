/**
 * Where a method comes from, for the faces that take one by name: a built-in from methods/index.ts, or
 * a user's file (a name that looks like a path). A run records which (`MethodRecord`: the name, and for a
 * file its path and content hash), so its checkpoint and exports can rebuild the same model later, and a
 * file that changed since is refused rather than silently giving another model.
 */
import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";
import type { ModelConfig } from "../models/config.ts";
import type { TrainableModel } from "../train/scheme.ts";
import { buildModel, type Method } from "./method.ts";
import { findMethod } from "./index.ts";
import { isMethodPath, loadMethodFile, type MethodSource } from "./fromFile.ts";

/** A method and, when it came from a file, that file. */
export interface ResolvedMethod {
  readonly method: Method;
  readonly source?: MethodSource;
}

/** How a run or an export names its method: the model's method name, and the file it came from, if any. */
export interface MethodRecord {
  readonly method: string;
  readonly methodFile?: MethodSource;
}

/** The method a `--method` value names: a file when it looks like a path (relative to `cwd`), else a built-in. */
export async function resolveMethod(name: string, cwd?: string): Promise<E.Either<RankfuseError, ResolvedMethod>> {
  if (isMethodPath(name)) return loadMethodFile(name, { cwd });
  return E.map((method: Method) => ({ method }))(findMethod(name));
}

/** Resolves a method and builds its model for a config, keeping the source for the run's record. */
export async function resolveModel(
  name: string,
  cfg: ModelConfig,
): Promise<E.Either<RankfuseError, { model: TrainableModel; source?: MethodSource }>> {
  const r = await resolveMethod(name);
  if (E.isLeft(r)) return r;
  return E.map((model: TrainableModel) => ({ model, source: r.right.source }))(buildModel(r.right.method, cfg));
}

/** The record a run keeps of its model's method (no methodFile key for a built-in, so those records are unchanged). */
export const methodRecord = (model: { readonly method: string }, source?: MethodSource): MethodRecord =>
  source
    ? { method: model.method, methodFile: { path: source.path, sha256: source.sha256 } }
    : { method: model.method };

/** Whether a value read from a checkpoint or an export is a method file's record. */
export const isMethodSource = (x: unknown): x is MethodSource =>
  typeof x === "object" &&
  x !== null &&
  typeof (x as MethodSource).path === "string" &&
  typeof (x as MethodSource).sha256 === "string";

/**
 * The model a record names, for a config: the built-in of that name, or its file imported again, refused
 * (naming `run`, the folder the record is from) when the file is missing or its contents changed.
 */
export async function rebuildModel(
  record: MethodRecord,
  cfg: ModelConfig,
  run: string,
): Promise<E.Either<RankfuseError, TrainableModel>> {
  const file = record.methodFile;
  if (!file) return E.flatMap((m: Method) => buildModel(m, cfg))(findMethod(record.method));
  const loaded = await loadMethodFile(file.path, { recorded: file, run });
  return E.isLeft(loaded) ? loaded : buildModel(loaded.right.method, cfg);
}
