import { describe, it, expect } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import {
  CHECKPOINT_FILE,
  PREV_CHECKPOINT_FILE,
  checkpointPath,
  loadCheckpoint,
  saveCheckpoint,
  type Checkpoint,
} from "../../train/checkpoint.ts";
import { checksumPath, writeFileAtomic, writeVerified } from "../../train/atomicFile.ts";
import { encodeSafetensors } from "../../train/safetensors.ts";
import { Rng } from "../../util/rng.ts";
import { BatchSampler } from "../../train/batches.ts";
import { tempDir } from "./tempDir.ts";

const config = (d = 256) => JSON.stringify({ d, layers: 2, lr: 0.001 });

/** A checkpoint with awkward float values (NaN payloads, -0, denormals) that only a bitwise round trip keeps. */
const sample = (step = 3, d = 256): Checkpoint => {
  const rng = Rng.fromSeed(5);
  const shapes = [[2, 3], [3], [1, 1, 2]];
  const values = shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()));
  values[1].set([-0, 1e-45, NaN]);
  // moments as after one AdamW step on gradients 0.5·values (the awkward values carry into them)
  const adam = {
    step: 1,
    m: values.map((v) => v.map((x) => 0.1 * 0.5 * x)),
    v: values.map((v) => v.map((x) => 0.001 * (0.5 * x) ** 2)),
  };
  rng.normal(); // leaves a cached spare in the state
  const sampler = new BatchSampler(
    Int32Array.from({ length: 100 }, (_, i) => i),
    { seqLen: 4, batch: 2, seed: 1 },
  );
  sampler.next();
  return {
    config: config(d),
    step,
    params: { names: ["tok_emb", "ln.gain", "blocks.0/w"], shapes, values },
    adam,
    rng: rng.state(),
    sampler: sampler.state(),
    extra: { losses: [5.1, 4.9] },
  };
};

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

const snapshot = (dir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f)).toString("hex")]),
  );

const message = <A>(r: E.Either<{ message: string }, A>): string => (E.isLeft(r) ? r.left.message : "(loaded)");

describe("checkpoint", () => {
  it("round-trips everything exactly, bitwise", () => {
    const dir = tempDir();
    const c = sample();
    const saved = saveCheckpoint(dir, c);
    expect(saved).toEqual(E.right(path.join(dir, CHECKPOINT_FILE)));
    const r = loadCheckpoint(dir, config());
    if (E.isLeft(r)) throw new Error(r.left.message);
    const l = r.right;
    expect(l.params.names).toEqual(c.params.names); // stored order, not safetensors' sorted order
    expect(l.params.shapes).toEqual(c.params.shapes);
    l.params.values.forEach((v, i) => expect(bits(v)).toEqual(bits(c.params.values[i])));
    l.adam.m.forEach((v, i) => expect(bits(v)).toEqual(bits(c.adam.m[i])));
    l.adam.v.forEach((v, i) => expect(bits(v)).toEqual(bits(c.adam.v[i])));
    expect([l.step, l.adam.step, l.config, l.extra]).toEqual([c.step, c.adam.step, c.config, c.extra]);
    expect(l.rng).toEqual(c.rng);
    expect(l.sampler).toEqual(c.sampler);
    expect(Rng.restore(l.rng).nextU32()).toBe(Rng.restore(c.rng).nextU32());
  });

  it("keeps the previous good checkpoint as .prev when overwriting", () => {
    const dir = tempDir();
    saveCheckpoint(dir, sample(1));
    saveCheckpoint(dir, sample(2));
    expect(fs.readdirSync(dir).sort()).toEqual(
      [
        PREV_CHECKPOINT_FILE,
        `${PREV_CHECKPOINT_FILE}.sha256.json`,
        CHECKPOINT_FILE,
        `${CHECKPOINT_FILE}.sha256.json`,
      ].sort(),
    );
    const cur = loadCheckpoint(dir);
    expect(E.isRight(cur) && cur.right.step).toBe(2);
    fs.renameSync(path.join(dir, PREV_CHECKPOINT_FILE), checkpointPath(dir));
    fs.renameSync(
      path.join(dir, `${PREV_CHECKPOINT_FILE}.sha256.json`),
      path.join(dir, `${CHECKPOINT_FILE}.sha256.json`),
    );
    const prev = loadCheckpoint(dir);
    expect(E.isRight(prev) && prev.right.step).toBe(1);
  });

  it("does not let a torn current checkpoint replace a good .prev", () => {
    const dir = tempDir();
    saveCheckpoint(dir, sample(1));
    saveCheckpoint(dir, sample(2));
    fs.appendFileSync(checkpointPath(dir), "x"); // current pair torn
    const prevBefore = fs.readFileSync(path.join(dir, PREV_CHECKPOINT_FILE));
    saveCheckpoint(dir, sample(3));
    expect(fs.readFileSync(path.join(dir, PREV_CHECKPOINT_FILE)).equals(prevBefore)).toBe(true);
    const cur = loadCheckpoint(dir);
    expect(E.isRight(cur) && cur.right.step).toBe(3);
  });

  it("refuses a missing checkpoint", () => {
    const dir = tempDir();
    expect(message(loadCheckpoint(dir))).toBe(`no checkpoint in ${dir}`);
  });

  it("refuses a corrupt byte, leaves the files untouched, and points at .prev without using it", () => {
    const dir = tempDir();
    saveCheckpoint(dir, sample(1));
    saveCheckpoint(dir, sample(2));
    const bytes = fs.readFileSync(checkpointPath(dir));
    bytes[bytes.length - 5] ^= 0x40;
    fs.writeFileSync(checkpointPath(dir), bytes);
    const before = snapshot(dir);
    const r = loadCheckpoint(dir);
    expect(E.isLeft(r) && r.left.tag).toBe("CheckpointError");
    expect(message(r)).toMatch(/is corrupt: checksum mismatch/);
    expect(message(r)).toContain(`${PREV_CHECKPOINT_FILE} exists`);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses a config mismatch, naming the differing key and both values", () => {
    const dir = tempDir();
    saveCheckpoint(dir, sample(1, 256));
    const before = snapshot(dir);
    const m = message(loadCheckpoint(dir, config(512)));
    expect(m).toContain("checkpoint was made with d=256, this run has d=512");
    expect(m).not.toContain("layers");
    expect(snapshot(dir)).toEqual(before);
    // Same JSON with other key order and spacing is not a mismatch.
    expect(E.isRight(loadCheckpoint(dir, '{ "lr": 0.001, "layers": 2, "d": 256 }'))).toBe(true);
    expect(message(loadCheckpoint(dir, JSON.stringify({ d: 256, layers: 2 })))).toContain(
      "lr=0.001, this run has lr=(unset)",
    );
  });

  it("refuses a file that is not safetensors, has the wrong format tag, or lacks tensors", () => {
    const dir = tempDir();
    const file = checkpointPath(dir);
    writeVerified(file, new TextEncoder().encode("not a checkpoint at all"));
    expect(message(loadCheckpoint(dir))).toMatch(/is not a valid safetensors file/);
    writeVerified(file, encodeSafetensors({}, { format: "something-else" }));
    expect(message(loadCheckpoint(dir))).toMatch(/not a rankfuse checkpoint: format tag is "something-else"/);
    const c = sample();
    saveCheckpoint(dir, c);
    fs.rmSync(path.join(dir, PREV_CHECKPOINT_FILE));
    fs.rmSync(checksumPath(path.join(dir, PREV_CHECKPOINT_FILE)));
    const meta = {
      format: "rankfuse-checkpoint-v1",
      config: c.config,
      step: "3",
      "adam.step": "1",
      params: JSON.stringify(["w"]),
      rng: JSON.stringify(c.rng),
      sampler: JSON.stringify(c.sampler),
      extra: "null",
    };
    writeVerified(file, encodeSafetensors({ "param/w": { dtype: "F32", shape: [1], data: Float32Array.of(1) } }, meta));
    expect(message(loadCheckpoint(dir))).toBe(`checkpoint ${file} is missing tensors: adam.m/w, adam.v/w`);
  });

  it("reports an unwritable directory as a value", () => {
    const blocker = path.join(tempDir(), "file");
    fs.writeFileSync(blocker, "");
    expect(message(saveCheckpoint(path.join(blocker, "sub"), sample()))).toMatch(/^cannot create checkpoint directory/);
  });

  it("a crash between payload and sidecar is detected, with the previous pair intact", () => {
    const dir = tempDir();
    saveCheckpoint(dir, sample(1));
    saveCheckpoint(dir, sample(2));
    // Simulate the crash: a new payload landed, its sidecar did not.
    writeFileAtomic(
      checkpointPath(dir),
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    expect(message(loadCheckpoint(dir))).toMatch(/is corrupt: size mismatch.*previous checkpoint .* exists/);
    fs.renameSync(path.join(dir, PREV_CHECKPOINT_FILE), checkpointPath(dir));
    fs.renameSync(checksumPath(path.join(dir, PREV_CHECKPOINT_FILE)), checksumPath(checkpointPath(dir)));
    const prev = loadCheckpoint(dir);
    expect(E.isRight(prev) && prev.right.step).toBe(1);
  });
});
