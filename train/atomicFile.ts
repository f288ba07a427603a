/**
 * Crash-safe file writes and checksum-verified reads, for checkpoints and
 * caches. A reader must never see a half-written file, and must be able to
 * tell a damaged file from a good one instead of training on garbage.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError, type TrainErrorTag } from "./errors.ts";
import { sha256Hex } from "../util/hash.ts";

/** Best-effort directory fsync so the rename itself survives a power cut (unsupported on some platforms). */
export const fsyncDir = (dir: string): void => {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported here (e.g. Windows); the data file itself was fsynced */
  }
};

/**
 * The write seam every file a run writes goes through (checkpoints, sidecars, metrics, the lock, reports).
 * `RANKFUSE_FAIL_WRITE=N[:CODE]` makes the Nth write of the process and every later one fail as a full
 * disk does (ENOSPC, or CODE such as EIO): half of the Nth write's bytes land, then it throws. Tests use it;
 * `failWritesFrom` sets the same thing in-process.
 */
const injected = { after: Infinity, code: "ENOSPC", count: 0 };
const fromEnv = /^(\d+)(?::([A-Z]+))?$/.exec(process.env.RANKFUSE_FAIL_WRITE ?? "");
if (fromEnv) [injected.after, injected.code] = [Number(fromEnv[1]), fromEnv[2] ?? "ENOSPC"];

/** Make the `n`th write from now (1 = the next) and all later ones fail with `code`; `Infinity` turns it off. */
export const failWritesFrom = (n: number, code = "ENOSPC"): void => {
  [injected.after, injected.code, injected.count] = [n, code, 0];
};

const writeSyncChecked = (fd: number, bytes: Uint8Array, off: number, len: number): number => {
  if (++injected.count >= injected.after) {
    if (injected.count === injected.after && len > 1) fs.writeSync(fd, bytes, off, len >> 1);
    const e = new Error(`${injected.code}: write failed (injected), write`) as NodeJS.ErrnoException;
    e.code = injected.code;
    throw e;
  }
  return fs.writeSync(fd, bytes, off, len);
};

/** Write all of `bytes` at the file position (several calls only where the OS writes short, e.g. over 2 GiB). */
export const writeAll = (fd: number, bytes: Uint8Array): void => {
  for (let off = 0; off < bytes.length;) {
    const n = writeSyncChecked(fd, bytes, off, bytes.length - off);
    if (n <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    off += n;
  }
};

/** Write `bytes` in one call, as one record; a short write (a full disk) throws instead of tearing the record. */
export const writeWhole = (fd: number, bytes: Uint8Array): void => {
  const n = writeSyncChecked(fd, bytes, 0, bytes.length);
  if (n !== bytes.length)
    throw Object.assign(new Error(`ENOSPC: short write (${n} of ${bytes.length} bytes), write`), { code: "ENOSPC" });
};

/** The temp files `writeFileAtomic` makes: `.<name>.<pid>.<8 hex>.tmp`, next to their target. */
export const ATOMIC_TEMP = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/**
 * Write `bytes` to `file` atomically: a temp file in the same directory
 * (so rename stays on one filesystem) is written, fsynced, then renamed over
 * `file`. On any failure the temp file is removed and `file` is untouched.
 */
export const writeFileAtomic = (
  file: string,
  bytes: Uint8Array,
  tag: TrainErrorTag = "CheckpointError",
): E.Either<TrainError, void> => {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx");
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
    fsyncDir(dir);
    return E.right(undefined);
  } catch (cause) {
    if (fd !== undefined)
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* temp file may never have been created */
    }
    return E.left(trainError(tag, `cannot write ${file}: ${causeMessage(cause)}`));
  }
};

/** Sidecar holding the payload's size and hash; kept separate so the payload stays a plain file other tools can read. */
export const checksumPath = (file: string): string => `${file}.sha256.json`;

export type Checksum = { algorithm: "sha256"; bytes: number; sha256: string };

/** The sidecar's content for `bytes`. */
export const checksumOf = (bytes: Uint8Array): Checksum => ({
  algorithm: "sha256",
  bytes: bytes.length,
  sha256: sha256Hex(bytes),
});

/** The sidecar as it is written. */
export const checksumBytes = (bytes: Uint8Array): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(checksumOf(bytes)) + "\n");

/** The checksum `file`'s sidecar records, or undefined where it is missing or malformed. */
export const readChecksum = (file: string): Checksum | undefined => {
  try {
    const c: unknown = JSON.parse(fs.readFileSync(checksumPath(file), "utf8"));
    return isChecksum(c) ? c : undefined;
  } catch {
    return undefined;
  }
};

/** Whether `bytes` are what checksum `c` records. */
export const matchesChecksum = (bytes: Uint8Array, c: Checksum | undefined): boolean =>
  c !== undefined && bytes.length === c.bytes && sha256Hex(bytes) === c.sha256;

const isChecksum = (x: unknown): x is Checksum => {
  const c = x as Partial<Checksum> | null;
  return (
    typeof c === "object" &&
    c !== null &&
    c.algorithm === "sha256" &&
    Number.isSafeInteger(c.bytes) &&
    typeof c.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(c.sha256)
  );
};

/**
 * Atomically write `bytes` and then its checksum sidecar. A crash between
 * the two leaves a payload/sidecar mismatch, which `readVerified` reports as
 * corrupt: a false alarm is possible, silently accepting bad data is not.
 */
export const writeVerified = (
  file: string,
  bytes: Uint8Array,
  tag: TrainErrorTag = "CheckpointError",
): E.Either<TrainError, void> => {
  return E.flatMap(writeFileAtomic(file, bytes, tag), () =>
    writeFileAtomic(checksumPath(file), checksumBytes(bytes), tag),
  );
};

/**
 * Read a file written by `writeVerified`, refusing it unless its size and
 * SHA-256 match the sidecar. `label` names the thing in messages
 * ("checkpoint X is corrupt: ...").
 */
export const readVerified = (
  file: string,
  label = "checkpoint",
  tag: TrainErrorTag = "CheckpointError",
): E.Either<TrainError, Uint8Array> => {
  const fail = (msg: string) => E.left(trainError(tag, `${label} ${file} ${msg}`));
  let sum: unknown;
  try {
    sum = JSON.parse(fs.readFileSync(checksumPath(file), "utf8"));
  } catch (cause) {
    return fail(`has no readable checksum file ${checksumPath(file)}: ${causeMessage(cause)}`);
  }
  if (!isChecksum(sum)) return fail(`has a malformed checksum file ${checksumPath(file)}`);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (cause) {
    return fail(`cannot be read: ${causeMessage(cause)}`);
  }
  if (bytes.length !== sum.bytes) {
    return fail(`is corrupt: size mismatch (expected ${sum.bytes} bytes, got ${bytes.length})`);
  }
  const got = sha256Hex(bytes);
  if (got !== sum.sha256) return fail(`is corrupt: checksum mismatch (expected ${sum.sha256}, got ${got})`);
  return E.right(bytes);
};
