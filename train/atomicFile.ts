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
const fsyncDir = (dir: string): void => {
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
    for (let off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off, bytes.length - off);
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

type Checksum = { algorithm: "sha256"; bytes: number; sha256: string };

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
  const sum: Checksum = { algorithm: "sha256", bytes: bytes.length, sha256: sha256Hex(bytes) };
  return E.flatMap(writeFileAtomic(file, bytes, tag), () =>
    writeFileAtomic(checksumPath(file), new TextEncoder().encode(JSON.stringify(sum) + "\n"), tag),
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
