import { afterEach, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import * as E from "fp-ts/lib/Either.js";
import {
  CHECKPOINT_FILE,
  PREV_CHECKPOINT_FILE,
  TMP_CHECKPOINT_FILE,
  checkpointPath,
  loadCheckpoint,
  prevCheckpointPath,
  recoverCheckpoint,
  saveCheckpoint,
  tmpCheckpointPath,
  type Checkpoint,
} from "../../train/checkpoint.ts";
import { checksumPath, failWritesFrom } from "../../train/atomicFile.ts";
import { MetricsLog, readMetrics, truncateAfterStep } from "../../train/metricsLog.ts";
import { Rng } from "../../util/rng.ts";
import { BatchSampler } from "../../train/batches.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "./tempDir.ts";

/**
 * The checkpoint commit protocol (see saveCheckpoint): a kill at any point between its steps leaves a pair
 * that verifies, which loadCheckpoint takes and recoverCheckpoint completes; a failed write (a full disk)
 * leaves the last checkpoint as it was.
 */

const sample = (step: number): Checkpoint => {
  const rng = Rng.fromSeed(step);
  const shapes = [[2, 3], [4]];
  const values = shapes.map((s) => Float32Array.from({ length: s[0] * (s[1] ?? 1) }, () => rng.normal()));
  const sampler = new BatchSampler(
    Int32Array.from({ length: 100 }, (_, i) => i),
    { seqLen: 4, batch: 2, seed: 1 },
  );
  return {
    config: "{}",
    step,
    params: { names: ["a", "b"], shapes, values },
    adam: { step, m: values.map((v) => v.map((x) => x / 2)), v: values.map((v) => v.map((x) => x * x)) },
    rng: rng.state(),
    sampler: sampler.state(),
    extra: null,
  };
};

const stepIn = (dir: string) => {
  const r = loadCheckpoint(dir);
  return E.isRight(r) ? r.right.step : r.left.message;
};

const snapshot = (dir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f)).toString("hex")]),
  );

afterEach(() => failWritesFrom(Infinity));

/** The files of `dir` after saveCheckpoint(3) over checkpoints 1 and 2, killed after `k` of its steps. */
function killedAt(k: number): string {
  const dir = tempDir();
  unwrap(saveCheckpoint(dir, sample(1)));
  unwrap(saveCheckpoint(dir, sample(2)));
  const next = tempDir();
  unwrap(saveCheckpoint(next, sample(3)));
  const [cur, tmp, prev] = [checkpointPath(dir), tmpCheckpointPath(dir), prevCheckpointPath(dir)];
  const steps = [
    () => fs.copyFileSync(checkpointPath(next), tmp), // 1: the payload
    () => fs.copyFileSync(checksumPath(checkpointPath(next)), checksumPath(tmp)), // 2: its sidecar
    () => fs.renameSync(cur, prev), // 3: current payload to .prev
    () => fs.renameSync(checksumPath(cur), checksumPath(prev)), // 4: its sidecar
    () => fs.renameSync(tmp, cur), // 5: the new payload in
    () => fs.renameSync(checksumPath(tmp), checksumPath(cur)), // 6: its sidecar: committed
  ];
  steps.slice(0, k).forEach((s) => s());
  return dir;
}

describe("checkpoint commit: a kill at every point leaves a checkpoint that verifies", () => {
  // before step 3 the old current pair is the checkpoint; from step 3 on, the new one
  it.each([
    [0, 2],
    [1, 2],
    [2, 2],
    [3, 3],
    [4, 3],
    [5, 3],
    [6, 3],
  ])("killed after step %i: loads step %i, and the next run completes or cleans up", (k, expected) => {
    const dir = killedAt(k);
    const before = snapshot(dir);
    expect(stepIn(dir)).toBe(expected);
    expect(snapshot(dir)).toEqual(before); // loading alone changes nothing
    const said = unwrap(recoverCheckpoint(dir));
    expect(said.length).toBe(k === 0 || k === 6 ? 0 : 1);
    if (k === 1 || k === 2)
      expect(said[0]).toMatch(/removed .*checkpoint\.tmp\.safetensors.*unfinished checkpoint write/);
    if (k >= 3 && k <= 5) expect(said[0]).toMatch(/completed the interrupted commit/);
    expect(fs.readdirSync(dir).sort()).toEqual(
      [CHECKPOINT_FILE, PREV_CHECKPOINT_FILE].flatMap((f) => [f, `${f}.sha256.json`]).sort(),
    );
    expect(stepIn(dir)).toBe(expected);
    // the .prev pair verifies too: made current, it loads
    fs.renameSync(prevCheckpointPath(dir), checkpointPath(dir));
    fs.renameSync(checksumPath(prevCheckpointPath(dir)), checksumPath(checkpointPath(dir)));
    expect(stepIn(dir)).toBe(expected - 1);
  });

  it("a kill during the first checkpoint's sidecar rename: the checkpoint loads, the next run completes it", () => {
    const dir = tempDir();
    const next = tempDir();
    unwrap(saveCheckpoint(next, sample(1)));
    fs.copyFileSync(checkpointPath(next), checkpointPath(dir));
    fs.copyFileSync(checksumPath(checkpointPath(next)), checksumPath(tmpCheckpointPath(dir)));
    expect(stepIn(dir)).toBe(1);
    expect(unwrap(recoverCheckpoint(dir))).toEqual([`completed the interrupted commit of ${checkpointPath(dir)}`]);
    expect(fs.readdirSync(dir).sort()).toEqual([CHECKPOINT_FILE, `${CHECKPOINT_FILE}.sha256.json`]);
  });

  it("stale temp files of killed writes are removed by the next run, saying so", () => {
    const dir = killedAt(6);
    const stale = path.join(dir, `.${TMP_CHECKPOINT_FILE}.12345.0badc0de.tmp`);
    fs.writeFileSync(stale, Buffer.alloc(1000));
    const said = unwrap(recoverCheckpoint(dir));
    expect(said).toEqual([`removed ${stale} (1000 bytes), left by an interrupted write`]);
    expect(fs.existsSync(stale)).toBe(false);
    expect(unwrap(recoverCheckpoint(dir))).toEqual([]);
  });
});

describe("checkpoint commit: a failed write leaves the last checkpoint as it was", () => {
  it.each([
    [1, "the payload"],
    [2, "the sidecar"],
  ])("disk full at write %i (%s): an error naming ENOSPC, the files unchanged, no temp files", (n) => {
    const dir = killedAt(6);
    const before = snapshot(dir);
    failWritesFrom(n);
    const r = saveCheckpoint(dir, sample(4));
    failWritesFrom(Infinity);
    expect(E.isLeft(r) && r.left.message).toMatch(/ENOSPC.*\(the last checkpoint is unchanged\)$/);
    expect(snapshot(dir)).toEqual(before);
    expect(stepIn(dir)).toBe(3);
  });
});

describe("the .prev repair command", () => {
  it("works as printed, also where the sidecars are hard links of each other (older runs)", () => {
    const dir = killedAt(6);
    fs.rmSync(checksumPath(checkpointPath(dir)));
    fs.linkSync(checksumPath(prevCheckpointPath(dir)), checksumPath(checkpointPath(dir)));
    const m = stepIn(dir);
    expect(m).toMatch(/is corrupt: size mismatch|checksum mismatch/);
    expect(m).toContain(`the previous checkpoint ${prevCheckpointPath(dir)} exists, at step 2`);
    const command = /to resume from it: (.*), then resume again\)$/.exec(String(m))![1];
    execFileSync("sh", ["-c", command]);
    expect(stepIn(dir)).toBe(2);
    expect(fs.existsSync(path.join(dir, "checkpoint.damaged.safetensors"))).toBe(true);
  });

  it("a missing current checkpoint with a .prev is refused, naming it and the command", () => {
    const dir = killedAt(6);
    fs.rmSync(checkpointPath(dir));
    fs.rmSync(checksumPath(checkpointPath(dir)));
    const m = String(stepIn(dir));
    expect(m).toMatch(/^no checkpoint in .*, only the previous one/);
    const command = /to resume from it: (.*), then resume again\)$/.exec(m)![1];
    execFileSync("sh", ["-c", command]);
    expect(stepIn(dir)).toBe(2);
  });
});

describe("metrics log on a full disk", () => {
  it("a failed write cuts the log back to its last whole record and closes it", () => {
    const file = path.join(tempDir(), "metrics.jsonl");
    const log = unwrap(MetricsLog.open(file, { append: false }));
    unwrap(log.write({ step: 1, loss: 2 }));
    failWritesFrom(1); // half of the next record lands, then ENOSPC
    const r = log.write({ step: 2, loss: 1.5, note: "x".repeat(100) });
    failWritesFrom(Infinity);
    expect(E.isLeft(r) && r.left.message).toMatch(/cannot write metrics log .*ENOSPC/);
    expect(fs.readFileSync(file, "utf8")).toBe('{"step":1,"loss":2}\n');
    expect(E.isLeft(log.write({ step: 3 }))).toBe(true);
  });

  it("truncateAfterStep reports a torn tail and dropped records, and leaves a clean log untouched", () => {
    const file = path.join(tempDir(), "metrics.jsonl");
    fs.writeFileSync(file, '{"step":1}\n{"step":2}\n{"step":3,"lo');
    expect(unwrap(truncateAfterStep(file, 1))).toEqual({ dropped: 1, tornBytes: 13 });
    expect(unwrap(readMetrics(file))).toEqual([{ step: 1 }]);
    const mtime = fs.statSync(file).mtimeMs;
    const ino = fs.statSync(file).ino;
    expect(unwrap(truncateAfterStep(file, 1))).toEqual({ dropped: 0, tornBytes: 0 });
    expect([fs.statSync(file).mtimeMs, fs.statSync(file).ino]).toEqual([mtime, ino]);
  });
});
