/**
 * One run per directory: `<dir>/train.lock` holds the owner's pid, host and start time. A second run is
 * refused while the owner lives; a lock whose process is gone (killed, crashed) is taken over, saying so.
 * The lock goes on normal exit, on errors (the caller's `finally`) and on `process.exit` (a second Ctrl-C).
 */
import { makeDirs } from "../util/outDir.ts";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { fsyncDir, writeAll } from "./atomicFile.ts";

export const LOCK_FILE = "train.lock";

type LockInfo = { pid: number; host: string; started: string; procStart?: string };

/** A held lock; `release` is idempotent and removes the file only while it is still this one. */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/** The kernel's start time of `pid` (Linux), which tells a live owner from a later process given its pid. */
const procStart = (pid: number | "self"): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
};

const alive = (info: LockInfo): boolean => {
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = procStart(info.pid);
  return info.procStart === undefined || now === undefined || now === info.procStart;
};

const readLock = (file: string): LockInfo | undefined => {
  try {
    const x = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockInfo>;
    return Number.isSafeInteger(x.pid) && typeof x.host === "string" ? (x as LockInfo) : undefined;
  } catch {
    return undefined;
  }
};

const mtimeMs = (file: string): number => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** The locks this process holds: one with this process's pid that is not among them is a copy or a leftover. */
const heldHere = new Set<string>();

const describeOwner = (i: LockInfo) => `pid ${i.pid} on ${i.host}, started ${i.started}`;

/** Take `<dir>/train.lock` (creating `dir`); `say` hears about a stale lock taken over. */
export function acquireRunLock(dir: string, say: (line: string) => void = () => {}): E.Either<TrainError, RunLock> {
  const file = path.join(dir, LOCK_FILE);
  const mine: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    ...(procStart("self") ? { procStart: procStart("self") } : {}),
  };
  const text = JSON.stringify(mine) + "\n";
  const fail = (m: string) => E.left(trainError("CheckpointError", m));
  try {
    makeDirs(dir); // not recursive mkdirSync: under /proc it retries forever
  } catch (cause) {
    return fail(`cannot create ${dir}: ${causeMessage(cause)}`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, "wx");
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "EEXIST")
        return fail(`cannot create ${file}: ${causeMessage(cause)}`);
      const owner = readLock(file);
      if (!owner && Date.now() - mtimeMs(file) < 10_000)
        return fail(`${dir} is in use by another run that is starting (${file} is being written)`);
      if (owner && owner.host !== os.hostname())
        return fail(`${dir} is in use by another run (${describeOwner(owner)}); if that run is gone, remove ${file}`);
      if (owner && alive(owner) && !(owner.pid === process.pid && !heldHere.has(file)))
        return fail(
          `${dir} is in use by another run (${describeOwner(owner)}): wait for it, stop it, or choose another directory`,
        );
      // stale: move it aside (only one taker wins the rename), check it is the one judged, then retry
      const aside = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, aside);
      } catch {
        continue; // another run took it first
      }
      const moved = readLock(aside);
      if (owner && moved && moved.pid !== owner.pid) {
        try {
          fs.linkSync(aside, file); // a live lock taken by a racing run: put it back
        } catch {
          /* a third run holds it now */
        }
        fs.rmSync(aside, { force: true });
        continue;
      }
      fs.rmSync(aside, { force: true });
      say(
        owner
          ? `taking over the stale lock ${file} (${describeOwner(owner)}, ${owner.pid === process.pid ? "not held by this process" : "no longer running"})`
          : `taking over the unreadable lock ${file}`,
      );
      continue;
    }
    try {
      writeAll(fd, new TextEncoder().encode(text));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fsyncDir(dir);
    } catch (cause) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
      fs.rmSync(file, { force: true });
      return fail(`cannot write ${file}: ${causeMessage(cause)}`);
    }
    let held = true;
    heldHere.add(file);
    const release = () => {
      if (!held) return;
      held = false;
      heldHere.delete(file);
      process.off("exit", release);
      try {
        if (fs.readFileSync(file, "utf8") === text) fs.rmSync(file, { force: true });
      } catch {
        /* gone already */
      }
    };
    process.on("exit", release);
    return E.right({ path: file, release });
  }
  return fail(`cannot take ${file}: other runs keep taking it`);
}
