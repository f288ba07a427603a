/**
 * Training checkpoints: everything needed to resume bit-exactly, in ONE
 * safetensors file (`<dir>/checkpoint.safetensors`) plus its sha256
 * sidecar. Tensors are `param/<name>`, `adam.m/<name>`, `adam.v/<name>`;
 * everything else is JSON strings in `__metadata__`, so the file also opens
 * in ordinary safetensors tooling.
 *
 * Crash safety: before overwriting a good checkpoint, it is kept as
 * `checkpoint.prev.safetensors` (+ sidecar). Every write is atomic and
 * payload-then-sidecar, so a crash at any point leaves the current pair or
 * the previous pair intact, and a torn pair is detected by its checksum.
 * Loading never falls back silently: it reports the damage and points at
 * the .prev file for the user to choose.
 */
import { makeDirs } from "../util/outDir.ts";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import {
  ATOMIC_TEMP,
  checksumBytes,
  checksumPath,
  fsyncDir,
  matchesChecksum,
  readChecksum,
  readVerified,
  writeAll,
  writeFileAtomic,
} from "./atomicFile.ts";
import {
  encodeSafetensors,
  decodeSafetensors,
  decodeSafetensorsMetadata,
  MAX_HEADER_BYTES,
  type Tensor,
  type TensorInput,
} from "./safetensors.ts";
import { configDifferences } from "./configDiff.ts";
import { isRngState, type RngState } from "../util/rng.ts";
import type { SamplerState } from "./batches.ts";
import type { NamedParams } from "./params.ts";
import type { AdamState } from "./adamMoments.ts";
import type { SchemeState } from "./scheme.ts";

export const CHECKPOINT_FORMAT = "rankfuse-checkpoint-v1";
export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const PREV_CHECKPOINT_FILE = "checkpoint.prev.safetensors";
export const TMP_CHECKPOINT_FILE = "checkpoint.tmp.safetensors";

/** Everything a run needs to resume exactly. */
export type Checkpoint = {
  /** Caller-defined JSON (model config + training options that must match on resume). */
  config: string;
  /** Completed training steps. */
  step: number;
  params: NamedParams;
  adam: AdamState;
  rng: RngState;
  sampler: SamplerState;
  /** Free JSON-serializable data (metrics so far, etc.). */
  extra: unknown;
  /** A training scheme's state (ReLoRA, Fira, SST, ...): tensors `scheme/<key>`, JSON in metadata. */
  scheme?: SchemeState;
};

export const checkpointPath = (dir: string): string => path.join(dir, CHECKPOINT_FILE);
export const prevCheckpointPath = (dir: string): string => path.join(dir, PREV_CHECKPOINT_FILE);

const fail = (message: string) => E.left(trainError("CheckpointError", message));

/** The tensor and metadata layout. Inconsistent params/moments are programming errors and throw. */
const encodeCheckpoint = (c: Checkpoint): Uint8Array => {
  const { names, shapes, values } = c.params;
  if (new Set(names).size !== names.length) throw new RangeError("checkpoint: duplicate param names");
  if (
    shapes.length !== names.length ||
    values.length !== names.length ||
    c.adam.m.length !== names.length ||
    c.adam.v.length !== names.length
  ) {
    throw new RangeError("checkpoint: params, shapes, values and Adam moments must have one entry per name");
  }
  const tensors: Record<string, TensorInput> = {};
  names.forEach((name, i) => {
    tensors[`param/${name}`] = { dtype: "F32", shape: shapes[i], data: values[i] };
    tensors[`adam.m/${name}`] = { dtype: "F32", shape: shapes[i], data: c.adam.m[i] };
    tensors[`adam.v/${name}`] = { dtype: "F32", shape: shapes[i], data: c.adam.v[i] };
  });
  const scheme = c.scheme;
  if (scheme) {
    for (const [key, t] of Object.entries(scheme.tensors))
      tensors[`scheme/${key}`] = { dtype: "F32", shape: [...t.shape], data: t.data };
  }
  return encodeSafetensors(tensors, {
    ...(scheme ? { scheme: JSON.stringify({ keys: Object.keys(scheme.tensors), meta: scheme.meta ?? null }) } : {}),
    format: CHECKPOINT_FORMAT,
    config: c.config,
    step: String(c.step),
    rng: JSON.stringify(c.rng),
    sampler: JSON.stringify(c.sampler),
    extra: JSON.stringify(c.extra ?? null),
    // Safetensors sorts tensors by name; the param order is part of the contract, so it is stored explicitly.
    params: JSON.stringify(names),
    "adam.step": String(c.adam.step),
  });
};

/** Where a checkpoint is written before it is committed. */
export const tmpCheckpointPath = (dir: string): string => path.join(dir, TMP_CHECKPOINT_FILE);

/** A payload and the sidecar that verifies it. */
type Pair = { payload: string; sidecar: string; bytes: Uint8Array };

const readIfExists = (file: string): Uint8Array | undefined => {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
};

/**
 * The committed checkpoint of `dir`: the current pair when it verifies; else, after a commit cut short
 * (see `saveCheckpoint`), the new payload with the temp sidecar, as checkpoint.safetensors or still as
 * checkpoint.tmp.safetensors. Never the .prev pair: that is the user's choice.
 */
const committedPair = (dir: string): (Pair & { interrupted: boolean }) | undefined => {
  const cur = checkpointPath(dir),
    tmp = tmpCheckpointPath(dir);
  const bytes = readIfExists(cur);
  if (bytes && matchesChecksum(bytes, readChecksum(cur)))
    return { payload: cur, sidecar: checksumPath(cur), bytes, interrupted: false };
  const tmpSum = readChecksum(tmp);
  if (!tmpSum) return undefined;
  if (bytes && matchesChecksum(bytes, tmpSum))
    return { payload: cur, sidecar: checksumPath(tmp), bytes, interrupted: true };
  const tmpBytes = readIfExists(tmp);
  return tmpBytes && matchesChecksum(tmpBytes, tmpSum)
    ? { payload: tmp, sidecar: checksumPath(tmp), bytes: tmpBytes, interrupted: true }
    : undefined;
};

/** Whether `dir` holds a checkpoint to resume or to refuse overwriting (a current one, or a commit cut short). */
export const hasCheckpoint = (dir: string): boolean =>
  fs.existsSync(checkpointPath(dir)) || committedPair(dir) !== undefined;

const rename = (from: string, to: string) => fs.renameSync(from, to);
const removeIfExists = (file: string) => fs.rmSync(file, { force: true });
const sizeOf = (file: string) => {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
};

/**
 * Before a run writes into `dir` (its lock held): finish a checkpoint commit that was cut short, and
 * remove what interrupted writes left (temp files, an uncommitted checkpoint.tmp pair). Returns one
 * message per thing it did. Changes nothing where there is nothing to clean.
 */
export const recoverCheckpoint = (dir: string): E.Either<TrainError, string[]> => {
  const said: string[] = [];
  const cur = checkpointPath(dir),
    tmp = tmpCheckpointPath(dir),
    prev = prevCheckpointPath(dir);
  try {
    if (!fs.existsSync(dir)) return E.right(said);
    for (const name of fs.readdirSync(dir).filter((n) => ATOMIC_TEMP.test(n))) {
      const f = path.join(dir, name);
      said.push(`removed ${f} (${sizeOf(f)} bytes), left by an interrupted write`);
      removeIfExists(f);
    }
    const pair = committedPair(dir);
    if (pair?.interrupted) {
      // cut short after the current pair was moved: its sidecar may still wait to become the .prev one
      if (pair.payload === tmp && !fs.existsSync(cur) && fs.existsSync(checksumPath(cur))) {
        const p = readIfExists(prev);
        if (p && matchesChecksum(p, readChecksum(cur))) rename(checksumPath(cur), checksumPath(prev));
      }
      if (pair.payload === tmp) rename(tmp, cur);
      rename(checksumPath(tmp), checksumPath(cur));
      fsyncDir(dir);
      said.push(`completed the interrupted commit of ${cur}`);
    } else {
      const left = [tmp, checksumPath(tmp)].filter((f) => fs.existsSync(f));
      if (left.length > 0)
        said.push(
          `removed ${left.join(" and ")} (${left.reduce((n, f) => n + sizeOf(f), 0)} bytes), an unfinished checkpoint write`,
        );
      left.forEach(removeIfExists);
    }
    return E.right(said);
  } catch (cause) {
    return fail(`cannot clean up ${dir} after an interrupted write: ${causeMessage(cause)}`);
  }
};

/**
 * Write `ckpt` to `<dir>/checkpoint.safetensors` (creating `dir`), returning the file's path.
 *
 * The commit protocol: (1) the payload is written and fsynced as checkpoint.tmp.safetensors, then its
 * sidecar (naming its size and sha256) atomically; (2) a current pair that verifies becomes the .prev
 * pair (payload, then sidecar, by rename: no hard links); (3) the tmp payload, then the tmp sidecar, are
 * renamed to the current names. Until (2) starts the current pair verifies; from the end of (1) on the tmp
 * sidecar verifies the new payload under either name, which `loadCheckpoint` accepts and
 * `recoverCheckpoint` finishes. A failure in (1) removes the tmp files and leaves everything else as it was.
 */
export const saveCheckpoint = (dir: string, ckpt: Checkpoint): E.Either<TrainError, string> => {
  const bytes = encodeCheckpoint(ckpt);
  try {
    makeDirs(dir); // not recursive mkdirSync: under /proc it retries forever
  } catch (cause) {
    return fail(`cannot create checkpoint directory ${dir}: ${causeMessage(cause)}`);
  }
  const cur = checkpointPath(dir),
    tmp = tmpCheckpointPath(dir),
    prev = prevCheckpointPath(dir);
  let fd: number | undefined;
  try {
    removeIfExists(checksumPath(tmp)); // first: a tmp payload without its sidecar is never taken
    fd = fs.openSync(tmp, "w");
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
  } catch (cause) {
    if (fd !== undefined)
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    removeIfExists(tmp);
    return fail(`cannot write ${tmp}: ${causeMessage(cause)} (the last checkpoint is unchanged)`);
  }
  const side = writeFileAtomic(checksumPath(tmp), checksumBytes(bytes));
  if (E.isLeft(side)) {
    removeIfExists(tmp);
    return fail(`${side.left.message} (the last checkpoint is unchanged)`);
  }
  try {
    const old = readIfExists(cur);
    // a torn current pair must not replace a good previous one
    if (old && matchesChecksum(old, readChecksum(cur))) {
      rename(cur, prev);
      rename(checksumPath(cur), checksumPath(prev));
    }
    rename(tmp, cur);
    rename(checksumPath(tmp), checksumPath(cur));
    fsyncDir(dir);
    return E.right(cur);
  } catch (cause) {
    return fail(`cannot commit checkpoint ${cur}: ${causeMessage(cause)} (the next run finishes the commit)`);
  }
};

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The step of the checkpoint `file`, from its header, when it can be read. */
export const checkpointStepOf = (file: string): number | undefined => {
  try {
    const meta = decodeSafetensorsMetadata(readHead(file));
    return E.isRight(meta) && meta.right.step !== undefined ? Number(meta.right.step) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The shell commands that make the .prev pair the current one, moving a damaged current pair aside
 * (renames to free names only: the sidecars of older runs may be hard links of each other).
 */
export const usePrevCommand = (dir: string): string => {
  const [cur, prev, aside] = [CHECKPOINT_FILE, PREV_CHECKPOINT_FILE, "checkpoint.damaged.safetensors"];
  const has = (f: string) => fs.existsSync(path.join(dir, f));
  const mv = (a: string, b: string) => `mv ${a} ${b}`;
  return [
    `cd ${quote(dir)}`,
    ...(has(cur) ? [mv(cur, aside)] : []),
    ...(has(checksumPath(cur)) ? [mv(checksumPath(cur), checksumPath(aside))] : []),
    mv(prev, cur),
    mv(checksumPath(prev), checksumPath(cur)),
  ].join(" && ");
};

/** Appended to damage reports so the user knows a fallback exists without us taking it for them. */
const prevHint = (dir: string): string => {
  const prev = prevCheckpointPath(dir);
  if (!fs.existsSync(prev)) return "";
  const step = checkpointStepOf(prev);
  return ` (the previous checkpoint ${prev} exists${step === undefined ? "" : `, at step ${step}`}; to resume from it: ${usePrevCommand(dir)}, then resume again)`;
};

const jsonField = (file: string, meta: Record<string, string>, key: string): E.Either<TrainError, unknown> => {
  if (meta[key] === undefined) return fail(`checkpoint ${file} has no "${key}" metadata`);
  try {
    return E.right(JSON.parse(meta[key]));
  } catch {
    return fail(`checkpoint ${file} has malformed "${key}" metadata (not JSON)`);
  }
};

const count = (file: string, meta: Record<string, string>, key: string): E.Either<TrainError, number> =>
  E.flatMap(jsonField(file, meta, key), (n) =>
    Number.isSafeInteger(n) && (n as number) >= 0
      ? E.right(n as number)
      : fail(`checkpoint ${file} has invalid "${key}" ${meta[key]}`),
  );

const isSamplerState = (x: unknown): x is SamplerState =>
  typeof x === "object" &&
  x !== null &&
  (x as SamplerState).version === 1 &&
  (["seed", "seqLen", "tokenCount", "epoch", "cursor"] as const).every((k) =>
    Number.isSafeInteger((x as SamplerState)[k]),
  );

const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === "string");

/** Check the format tag, then the config (before anything else can fail confusingly on a different model). */
const checkHeader = (file: string, meta: Record<string, string>, expectConfig?: string): E.Either<TrainError, void> => {
  if (meta.format !== CHECKPOINT_FORMAT) {
    return fail(
      `${file} is not a rankfuse checkpoint: format tag is ${JSON.stringify(meta.format ?? null)}, expected "${CHECKPOINT_FORMAT}"`,
    );
  }
  if (typeof meta.config !== "string") return fail(`checkpoint ${file} has no "config" metadata`);
  const diffs = expectConfig === undefined ? [] : configDifferences(meta.config, expectConfig);
  return diffs.length === 0 ? E.right(undefined) : fail(`cannot resume from ${file}: ${diffs.join("; ")}`);
};

/** Collect the F32 tensors of every param, in the stored order, checking moments match their param's shape. */
const readTensors = (file: string, names: string[], tensors: Record<string, Tensor>) => {
  const missing = names
    .flatMap((n) => [`param/${n}`, `adam.m/${n}`, `adam.v/${n}`])
    .filter((k) => tensors[k] === undefined);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(", ") + (missing.length > 5 ? `, … (${missing.length} in all)` : "");
    return fail(`checkpoint ${file} is missing tensors: ${shown}`);
  }
  const shapes: number[][] = [],
    values: Float32Array[] = [],
    m: Float32Array[] = [],
    v: Float32Array[] = [];
  for (const n of names) {
    const [p, mm, vv] = [`param/${n}`, `adam.m/${n}`, `adam.v/${n}`].map((k) => tensors[k]);
    const wrong = [p, mm, vv].find((t) => t.dtype !== "F32" || t.shape.join() !== p.shape.join());
    if (wrong) return fail(`checkpoint ${file}: tensors of param "${n}" must all be F32 with shape [${p.shape}]`);
    shapes.push(p.shape);
    values.push(p.data as Float32Array);
    m.push(mm.data as Float32Array);
    v.push(vv.data as Float32Array);
  }
  return E.right({ shapes, values, m, v });
};

/** The scheme section, when the checkpoint has one: every listed tensor must be there, as F32. */
const readScheme = (
  file: string,
  meta: Record<string, string>,
  tensors: Record<string, Tensor>,
): E.Either<TrainError, SchemeState | undefined> => {
  if (meta.scheme === undefined) return E.right(undefined);
  return E.flatMap(jsonField(file, meta, "scheme"), (x) => {
    const s = x as { keys?: unknown; meta?: unknown };
    if (typeof s !== "object" || s === null || !isStringArray(s.keys))
      return fail(`checkpoint ${file} has malformed "scheme" metadata`);
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const k of s.keys) {
      const t = tensors[`scheme/${k}`];
      if (!t || t.dtype !== "F32")
        return fail(`checkpoint ${file} is missing the training scheme's tensor "scheme/${k}"`);
      out[k] = { shape: t.shape, data: t.data as Float32Array };
    }
    return E.right({ tensors: out, meta: s.meta ?? null });
  });
};

/** The first bytes of a file: its 8-byte header length and the header (capped), for reading metadata alone. */
const readHead = (file: string): Uint8Array => {
  const fd = fs.openSync(file, "r");
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const head = Buffer.alloc(8 + Math.min(n, MAX_HEADER_BYTES + 1));
    len.copy(head);
    return head.subarray(0, 8 + fs.readSync(fd, head, 8, head.length - 8, 8));
  } finally {
    fs.closeSync(fd);
  }
};

/**
 * The config (the caller's fingerprint JSON) `<dir>/checkpoint.safetensors` was made with, from its
 * header alone: a cheap look before a resume. Unverified: `loadCheckpoint` checks the whole file.
 */
export const readCheckpointConfig = (dir: string): E.Either<TrainError, string> => {
  const file = checkpointPath(dir);
  if (!fs.existsSync(file)) return fail(`no checkpoint in ${dir}`);
  let head: Uint8Array;
  try {
    head = readHead(file);
  } catch (cause) {
    return fail(`cannot read ${file}: ${causeMessage(cause)}`);
  }
  return pipe(
    decodeSafetensorsMetadata(head),
    E.mapLeft((e) => trainError("CheckpointError", `checkpoint ${file} is not a valid safetensors file: ${e.message}`)),
    E.flatMap((meta) => E.map(() => meta.config!)(checkHeader(file, meta))),
  );
};

/**
 * Load `<dir>/checkpoint.safetensors`, refusing (never repairing or
 * falling back) a missing, corrupt, foreign or mismatched one. With
 * `expectConfig`, the stored config must equal it as JSON.
 */
export const loadCheckpoint = (dir: string, expectConfig?: string): E.Either<TrainError, Checkpoint> => {
  const pair = committedPair(dir);
  const file = pair?.payload ?? checkpointPath(dir);
  if (!pair && !fs.existsSync(file))
    return fail(
      fs.existsSync(prevCheckpointPath(dir))
        ? `no checkpoint in ${dir}, only the previous one, which is not used by itself${prevHint(dir)}`
        : `no checkpoint in ${dir}`,
    );
  return pipe(
    pair ? E.right(pair.bytes) : readVerified(file),
    E.mapLeft((e) => trainError("CheckpointError", e.message + prevHint(dir))),
    E.flatMap((bytes) =>
      pipe(
        decodeSafetensors(bytes),
        E.mapLeft((e) =>
          trainError(
            "CheckpointError",
            `checkpoint ${file} is not a valid safetensors file: ${e.message}${prevHint(dir)}`,
          ),
        ),
      ),
    ),
    E.flatMap(({ tensors, metadata: meta }) =>
      pipe(
        checkHeader(file, meta, expectConfig),
        E.flatMap(() => E.Do),
        E.bind("step", () => count(file, meta, "step")),
        E.bind("adamStep", () => count(file, meta, "adam.step")),
        E.bind("names", () =>
          E.flatMap(jsonField(file, meta, "params"), (x) =>
            isStringArray(x) ? E.right(x) : fail(`checkpoint ${file} has malformed "params" metadata`),
          ),
        ),
        E.bind("rng", () =>
          E.flatMap(jsonField(file, meta, "rng"), (x) =>
            isRngState(x) ? E.right(x) : fail(`checkpoint ${file} has an invalid rng state`),
          ),
        ),
        E.bind("sampler", () =>
          E.flatMap(jsonField(file, meta, "sampler"), (x) =>
            isSamplerState(x) ? E.right(x) : fail(`checkpoint ${file} has an invalid sampler state`),
          ),
        ),
        E.bind("extra", () => jsonField(file, meta, "extra")),
        E.bind("t", ({ names }) => readTensors(file, names, tensors)),
        E.bind("scheme", () => readScheme(file, meta, tensors)),
        E.map(({ step, adamStep, names, rng, sampler, extra, t, scheme }): Checkpoint => ({
          config: meta.config,
          step,
          params: { names, shapes: t.shapes, values: t.values },
          adam: { step: adamStep, m: t.m, v: t.v },
          rng,
          sampler,
          extra,
          ...(scheme ? { scheme } : {}),
        })),
      ),
    ),
  );
};
