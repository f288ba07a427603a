import { describe, expect, it, onTestFinished } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { readMetrics } from "../../train/metricsLog.ts";
import { LOCK_FILE } from "../../train/runLock.ts";

/** `rankfuse train` on a full disk (writes made to fail), and two runs into one --out. */

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const SMALL = ["--width", "32", "--heads", "2", "--layers", "1", "--ff", "48", "--rank", "8", "--seq", "16"];
const RUN = [...SMALL, "--batch", "2", "--backend", "wasm", "--eval-every", "5", "--checkpoint-every", "5"];

type Done = { code: number | null; out: string; err: string };

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, RANKFUSE_BACKEND: "", ...env } });
  onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
  let out = "",
    err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<Done>((resolve) => child.on("close", (code) => resolve({ code, out, err })));
  return { child, done };
}

const outDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-durable-"));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
};

describe("rankfuse train on a full disk", () => {
  it("stops with one error line and exit 1 (no 'done'), leaving a checkpoint and metrics that a resume continues", async () => {
    const dir = outDir();
    const args = ["train", "--method", "cola", "--steps", "20", "--out", dir, ...RUN];
    // 1 lock, then per 5 steps 5 records, an evaluation and a checkpoint's two files: write 20 is step 13's record
    const r = await start(args, { RANKFUSE_FAIL_WRITE: "20" }).done;
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/done/);
    const errors = r.err.split("\n").filter((l) => l.startsWith("rankfuse train:"));
    expect(errors).toEqual([expect.stringMatching(/^rankfuse train: DataError: cannot write metrics log .*ENOSPC/)]);
    const ck = loadCheckpoint(dir);
    expect(E.isRight(ck) && ck.right.step).toBe(10);
    expect(E.isRight(readMetrics(path.join(dir, "metrics.jsonl")))).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => /tmp|lock/.test(f))).toEqual([]);

    const resumed = await start([...args, "--resume"]).done;
    expect(resumed.err).toMatch(/dropped 2 records after step 10/);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/^done: 20 steps/);
    const steps = (readMetrics(path.join(dir, "metrics.jsonl")) as E.Right<Record<string, unknown>[]>).right
      .filter((x) => "loss" in x)
      .map((x) => x.step);
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  }, 120_000);
});

describe("one run per --out", () => {
  it("a second train into a busy --out is refused; the first keeps its files, and Ctrl-C releases the lock", async () => {
    const dir = outDir();
    const first = start(["train", "--method", "cola", "--steps", "100000", "--out", dir, ...RUN]);
    await new Promise<void>((resolve) => {
      const check = (d: Buffer) => /cola +\d{2,}\/\d+/.test(d.toString()) && resolve();
      first.child.stderr!.on("data", check);
    });
    const second = await start(["train", "--method", "cola", "--steps", "50", "--out", dir, ...RUN]).done;
    expect(second.code).toBe(1);
    expect(second.err.trim().split("\n").at(-1)).toMatch(
      new RegExp(`^rankfuse train: CheckpointError: ${dir} is in use by another run \\(pid ${first.child.pid} on `),
    );
    first.child.kill("SIGINT");
    const r = await first.done;
    expect(r.code).toBe(130);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    const metrics = readMetrics(path.join(dir, "metrics.jsonl"));
    expect(E.isRight(metrics)).toBe(true); // not interleaved with a second writer
  }, 120_000);

  it("a lock left by a killed run is taken over, saying so", async () => {
    const dir = outDir();
    const first = start(["train", "--method", "cola", "--steps", "100000", "--out", dir, ...RUN]);
    await new Promise<void>((resolve) => {
      first.child.stderr!.on("data", (d: Buffer) => /cola +\d{2,}\/\d+/.test(d.toString()) && resolve());
    });
    first.child.kill("SIGKILL");
    await first.done;
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    const second = start(["train", "--method", "cola", "--steps", "100000", "--out", dir, ...RUN, "--resume"]);
    let err = "";
    await new Promise<void>((resolve) => {
      second.child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        if (/cola +\d{2,}\/\d+/.test(err)) resolve();
      });
    });
    second.child.kill("SIGINT");
    const r = await second.done;
    expect(r.err).toMatch(
      new RegExp(
        `taking over the stale lock ${path.join(dir, LOCK_FILE)} \\(pid ${first.child.pid} on .*, no longer running\\)`,
      ),
    );
    expect(r.code).toBe(130);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  }, 120_000);
});
