import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadCheckpoint, saveCheckpoint } from "../../train/checkpoint.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "../train/tempDir.ts";

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "wasm" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const TINY = "--config tiny --width 32 --heads 2 --layers 1 --ff 48 --rank 8 --seq 16 --batch 2 --eval-batches 1".split(
  " ",
);
const train = (...args: string[]) => run("train", ...TINY, ...args);
const errorLines = (err: string) => err.split("\n").filter((l) => /Error/.test(l));
const noStack = (err: string) => expect(err).not.toMatch(/\n\s+at /);

/** A diverging run stops in one line, keeps its last good checkpoint, and eval/export refuse bad weights. */
describe("divergence through the CLI", () => {
  it("--lr 1e30: stops at step 2 in one line, the checkpoint of step 1 kept (finite), no 'done'", () => {
    const dir = tempDir();
    const r = train("--steps", "6", "--lr", "1e30", "--checkpoint-every", "1", "--out", dir);
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/done/);
    noStack(r.err);
    // the loss on native, the gradient norm on wasm (its params after step 1 are ~1e29)
    expect(errorLines(r.err)).toEqual([
      expect.stringMatching(
        /^rankfuse train: DivergenceError: training diverged at step 2: the (loss|gradient norm) is NaN, nothing of it was applied; the checkpoint of step 1 is kept; try a lower --lr \(now 1e\+30\) or a smaller --clip \(now 0\.5\)$/,
      ),
    ]);
    const ck = unwrap(loadCheckpoint(dir));
    expect(ck.step).toBe(1);
    expect(ck.params.values.every((p) => p.every(Number.isFinite))).toBe(true);
  });

  it("--lr 1e39 --checkpoint-every 1: the update overflows at step 1, no checkpoint is written", () => {
    const dir = tempDir();
    const r = train("--steps", "4", "--lr", "1e39", "--checkpoint-every", "1", "--out", dir);
    expect(r.code).toBe(1);
    noStack(r.err);
    expect(errorLines(r.err)).toHaveLength(1);
    expect(r.err).toMatch(
      /training diverged at step 1: the update made the params non-finite, .*no checkpoint was written; try a lower --lr/,
    );
    expect(fs.existsSync(path.join(dir, "checkpoint.safetensors"))).toBe(false);
  });

  it("--steps 1 --lr 1e6: a NaN final validation fails instead of 'done'", () => {
    const r = train("--steps", "1", "--lr", "1e6");
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/done/);
    noStack(r.err);
    expect(errorLines(r.err)).toEqual([
      expect.stringMatching(
        /^rankfuse train: DivergenceError: the final validation loss is NaN \(perplexity NaN\): the run did not learn; try a lower --lr/,
      ),
    ]);
  });

  it("--skip-nonfinite 2: two skipped batches, each a line, then the stop", () => {
    const r = train("--steps", "6", "--lr", "1e30", "--skip-nonfinite", "2");
    expect(r.code).toBe(1);
    const skips = r.err.split("\n").filter((l) => l.startsWith("skipped a batch"));
    expect(skips).toHaveLength(2);
    skips.forEach((l, i) =>
      expect(l).toMatch(
        new RegExp(
          `^skipped a batch at step 2: the (loss|gradient norm) is NaN: the state is unchanged \\(${i + 1} of --skip-nonfinite 2\\)$`,
        ),
      ),
    );
    expect(errorLines(r.err)).toHaveLength(1);
    expect(r.err).toMatch(/DivergenceError: training diverged at step 2: the (loss|gradient norm) is NaN/);
  });

  it("eval and export refuse non-finite weights in one line; export --allow-nonfinite writes them", () => {
    // a finished run whose checkpoint is then given one NaN (as an older version could write)
    const dir = tempDir();
    expect(train("--steps", "1", "--lr", "1e-3", "--out", dir).code).toBe(0);
    const ck = unwrap(loadCheckpoint(dir));
    ck.params.values[0]![0] = NaN;
    unwrap(saveCheckpoint(dir, ck));

    const ev = run("eval", "--run", dir);
    expect(ev.code).toBe(1);
    noStack(ev.err);
    expect(ev.err.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^rankfuse eval: the weights are not finite: 1 of \d+ values are NaN or infinite \(the first in .+\) \(the run diverged\)$/,
      ),
    ]);
    const to = tempDir();
    const ex = run("export", "--run", dir, "--to", to);
    expect(ex.code).toBe(1);
    expect(ex.err.trim().split("\n")).toEqual([
      expect.stringMatching(/^rankfuse export: the weights are not finite: .*--allow-nonfinite writes them anyway$/),
    ]);
    expect(fs.existsSync(path.join(to, "model.safetensors"))).toBe(false);
    const allowed = run("export", "--run", dir, "--to", to, "--allow-nonfinite");
    expect(allowed.code).toBe(0);
    expect(fs.existsSync(path.join(to, "model.safetensors"))).toBe(true);
  });
});
