/**
 * What every export shares: the target folder check (never overwrite a user's files without --force) and
 * `checksums.json`, the sha256 of each file an export writes, which every import verifies.
 *
 *   checksums.json   {"sha256": {"model.safetensors": "<hex>", "config.json": "<hex>", ...}}
 */
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { causeMessage } from "./errors.ts";

/** The checksum file of an export (and of what a PyTorch package's train.py writes). */
export const CHECKSUMS = "checksums.json";

/**
 * Refuses a target folder that already holds any of `files` (paths relative to it), naming them, unless
 * `force`; a new folder, an empty one, or one holding other files only, is fine. Reads, never writes.
 */
export function checkExportTarget(dir: string, files: readonly string[], force: boolean): E.Either<string, void> {
  try {
    if (!fs.existsSync(dir)) return E.right(undefined);
    if (!fs.statSync(dir).isDirectory()) return E.left(`${dir} exists and is not a folder`);
  } catch (e) {
    return E.left(`cannot read ${dir}: ${causeMessage(e)}`);
  }
  if (force) return E.right(undefined);
  const there = files.filter((f) => fs.existsSync(path.join(dir, f)));
  if (there.length === 0) return E.right(undefined);
  return E.left(
    `${dir} already holds ${there.join(", ")}, which the export would overwrite: choose another folder, or pass --force to overwrite ${there.length > 1 ? "them" : "it"}`,
  );
}

/** checksums.json's bytes for files (name relative to the folder -> bytes). */
export function checksumsFile(files: Readonly<Record<string, Uint8Array | string>>): Uint8Array {
  const sha256 = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, sha256Hex(bytes)]));
  return new TextEncoder().encode(JSON.stringify({ sha256 }, null, 2) + "\n");
}

/**
 * Verifies files read from an export folder (name relative to it -> the bytes read) against its
 * checksums.json. Left: one line naming the file that does not match (or a damaged checksums.json).
 * Right: undefined when they match, or a note when the folder has no checksums.json (an export from an
 * older rankfuse, or another tool's), whose files are then taken unverified.
 */
export function verifyChecksums(
  dir: string,
  read: Readonly<Record<string, Uint8Array>>,
): E.Either<string, string | undefined> {
  const file = path.join(dir, CHECKSUMS);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      return E.right(
        `${dir} has no ${CHECKSUMS} (written by an older rankfuse or another tool): its files are read unverified`,
      );
    return E.left(`cannot read ${file}: ${causeMessage(e)}`);
  }
  let sums: unknown;
  try {
    sums = (JSON.parse(text) as { sha256?: unknown }).sha256;
  } catch (e) {
    return E.left(`${file} is damaged (${causeMessage(e)}): cannot verify the export`);
  }
  if (typeof sums !== "object" || sums === null) return E.left(`${file} has no "sha256" section`);
  for (const [name, bytes] of Object.entries(read)) {
    const want = (sums as Record<string, unknown>)[name];
    if (typeof want !== "string") return E.left(`${file} has no sha256 for ${name}: cannot verify it`);
    if (sha256Hex(bytes) !== want)
      return E.left(
        `${path.join(dir, name)} does not match its sha256 in ${CHECKSUMS}: the file is damaged or was changed after the export`,
      );
  }
  return E.right(undefined);
}
