import { afterEach, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import * as E from "fp-ts/lib/Either.js";
import { makeModel } from "../../methods/index.ts";
import { train, type TrainOptions } from "../../train/loop.ts";
import { checkpointPath, loadCheckpoint, prevCheckpointPath } from "../../train/checkpoint.ts";
import { checksumPath, failWritesFrom } from "../../train/atomicFile.ts";
import { readMetrics } from "../../train/metricsLog.ts";
import { acquireRunLock, LOCK_FILE } from "../../train/runLock.ts";
import { sha256Hex } from "../../util/hash.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "./tempDir.ts";
import { tinyRun } from "./tinyRun.ts";

/** A run's writes on a full disk, resuming a finished run, a lone .prev, and one run per directory. */

const { cfg, data, options: tinyOptions, backend } = tinyRun();
const model = unwrap(makeModel("cola", cfg));
const logged: string[] = [];
const options = (o: Partial<TrainOptions> = {}): TrainOptions =>
  tinyOptions({
    steps: 8,
    evalEvery: 2,
    checkpointEvery: 2,
    progress: { update: () => {}, log: (l) => void logged.push(l), done: () => {} },
    ...o,
  });

afterEach(() => {
  failWritesFrom(Infinity);
  logged.length = 0;
});

/** Every file's hash and mtime. */
const state = (dir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => {
        const p = path.join(dir, f);
        return [f, `${sha256Hex(fs.readFileSync(p))} ${fs.statSync(p).mtimeMs}`];
      }),
  );

const steps = (dir: string) =>
  unwrap(readMetrics(path.join(dir, "metrics.jsonl")))
    .filter((r) => "loss" in r)
    .map((r) => r.step);

describe("a full disk during a run", () => {
  // The lock is write 1; each step writes a record, evaluations another, checkpoints two files (payload and
  // sidecar): 21 writes in all, the last the final checkpoint's sidecar.
  it.each([2, 5, 9, 10, 11, 17, 20, 21])(
    "writes fail from write %i on: the run stops with one error, metrics parse, the last checkpoint verifies, a resume finishes",
    async (n) => {
      const dir = tempDir();
      failWritesFrom(n);
      const r = await train(model, backend, data, options({ outDir: dir }));
      failWritesFrom(Infinity);
      expect(E.isLeft(r)).toBe(true);
      const message = E.isLeft(r) ? r.left.message : "";
      expect(message).toMatch(/ENOSPC/);
      expect(message).not.toMatch(/\n/);
      expect(fs.readdirSync(dir).filter((f) => /tmp|lock/.test(f))).toEqual([]); // no temp files, the lock released
      const done = steps(dir); // parses: no torn line
      const ck = loadCheckpoint(dir);
      const at = E.isRight(ck) ? ck.right.step : 0;
      if (E.isRight(ck)) expect(done.slice(0, at)).toEqual(Array.from({ length: at }, (_, i) => i + 1));
      const resumed = unwrap(await train(model, backend, data, options({ outDir: dir, resume: true })));
      expect(resumed.steps).toBe(8);
      expect(steps(dir)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    },
  );

  it("EIO is reported the same way", async () => {
    const dir = tempDir();
    failWritesFrom(6, "EIO");
    const r = await train(model, backend, data, options({ outDir: dir }));
    expect(E.isLeft(r) && r.left.message).toMatch(/EIO/);
  });
});

describe("resuming", () => {
  it("a finished run says so and changes no file", async () => {
    const dir = tempDir();
    const first = unwrap(await train(model, backend, data, options({ outDir: dir })));
    const before = state(dir);
    await new Promise((r) => setTimeout(r, 20)); // an mtime that moved would show
    const again = unwrap(await train(model, backend, data, options({ outDir: dir, resume: true })));
    expect(again.alreadyFinished).toBe(true);
    expect(again.final).toEqual(first.final);
    expect(logged.at(-1)).toBe(`${checkpointPath(dir)} finished this run at step 8: nothing to do`);
    expect(state(dir)).toEqual(before);
  });

  it.each([true, false])(
    "a missing current checkpoint with a .prev is refused (resume %s), naming it and the command, changing nothing",
    async (resume) => {
      const dir = tempDir();
      unwrap(await train(model, backend, data, options({ outDir: dir, steps: 4 })));
      fs.rmSync(checkpointPath(dir));
      fs.rmSync(checksumPath(checkpointPath(dir)));
      const before = state(dir);
      const r = await train(model, backend, data, options({ outDir: dir, steps: 4, resume }));
      const m = E.isLeft(r) ? r.left.message : "";
      expect(m).toContain(`only the previous checkpoint ${prevCheckpointPath(dir)} (step 2)`);
      expect(m).toContain(`mv checkpoint.prev.safetensors checkpoint.safetensors`);
      expect(state(dir)).toEqual(before);
    },
  );
});

describe("one run per directory", () => {
  it("a second run into a locked directory is refused; the lock goes with the run", async () => {
    const dir = tempDir();
    const held = unwrap(acquireRunLock(dir));
    const r = await train(model, backend, data, options({ outDir: dir }));
    expect(E.isLeft(r) && r.left.message).toMatch(/is in use by another run \(pid \d+ on .*, started .*\)/);
    expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
    held.release();
    unwrap(await train(model, backend, data, options({ outDir: dir })));
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it("a stale lock (its process is gone) is taken over, saying so", async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    const host = (await import("node:os")).hostname();
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: Number(dead), host, started: "earlier" }));
    unwrap(await train(model, backend, data, options({ outDir: dir, steps: 2 })));
    expect(logged[0]).toBe(
      `taking over the stale lock ${path.join(dir, LOCK_FILE)} (pid ${dead} on ${host}, started earlier, no longer running)`,
    );
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });
});
