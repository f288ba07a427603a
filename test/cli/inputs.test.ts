import { afterEach, describe, expect, it, vi } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { TRAIN_KEYS } from "../../cli/export.ts";
import { COMPARE_FLAGS } from "../../cli/compare.ts";
import { main } from "../../cli/main.ts";
import { FLAG_RANGES } from "../../cli/args.ts";
import { RUN_FLAGS, MODEL_FLAGS } from "../../cli/trainFlags.ts";
import { checkMemory } from "../../cli/preflight.ts";
import { outDirProblem, makeDirs } from "../../util/outDir.ts";
import { resolveConfig } from "../../models/config.ts";
import { resolveModel } from "../../methods/resolve.ts";

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const run = (...args: string[]) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "", RANKFUSE_NO_MEMORY_CHECK: "" },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: performance.now() - t };
};

/** Values no numeric flag takes: below its range, not a number, not finite, a fraction for an integer, huge. */
function badValues(name: string): string[] {
  const r = FLAG_RANGES[name]!;
  return [
    ...(r.min > 0 || r.above ? ["0"] : []),
    "-1",
    "NaN",
    "Infinity",
    "-Infinity",
    ...(r.max < 1e18 ? ["1e18"] : []),
    "twelve",
    "",
    ...(r.int ? ["1.5"] : []),
  ];
}

const numeric = (flags: Record<string, unknown>) => Object.keys(flags).filter((k) => FLAG_RANGES[k]);
const EXPORT_NUMERIC = [...numeric(MODEL_FLAGS), ...TRAIN_KEYS.filter((k) => FLAG_RANGES[k])];
const COMMAND_FLAGS: Record<string, { flags: string[]; extra: string[] }> = {
  train: { flags: numeric(RUN_FLAGS), extra: [] },
  compare: { flags: numeric(COMPARE_FLAGS), extra: [] },
  eval: { flags: ["batch", "seq", "eval-batches"], extra: ["--run", "/definitely/not/here"] },
  export: { flags: EXPORT_NUMERIC, extra: ["--torch", "/tmp/rankfuse-never-written", "--method", "cola"] },
  inspect: { flags: [...numeric(MODEL_FLAGS), "batch", "seq"], extra: [] },
};
const TABLE = Object.entries(COMMAND_FLAGS).flatMap(([cmd, { flags, extra }]) =>
  flags.flatMap((flag) => badValues(flag).map((v) => [cmd, flag, v, extra] as const)),
);

describe("every numeric flag of every command is range-checked when parsed", () => {
  afterEach(() => vi.restoreAllMocks());

  it("the table covers the numeric flags of train, compare, eval, export and inspect", () => {
    expect(COMMAND_FLAGS.train!.flags).toEqual(
      expect.arrayContaining(["steps", "tokens", "lr", "min-lr-ratio", "weight-decay", "clip", "seed", "warmup"]),
    );
    expect(COMMAND_FLAGS.train!.flags).toEqual(
      expect.arrayContaining(["eval-every", "eval-batches", "checkpoint-every", "batch", "seq", "width", "vocab"]),
    );
    expect(COMMAND_FLAGS.compare!.flags).toEqual(expect.arrayContaining(["lr", "seeds", "sweep-tokens"]));
    expect(TABLE.length).toBeGreaterThan(400);
  });

  it.each(TABLE)("%s --%s %j: one line, exit code 2", async (cmd, flag, value, extra) => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
    vi.spyOn(console, "log").mockImplementation(() => {});
    const code = await main([cmd, ...extra, `--${flag}`, value]);
    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`--${flag} must be`);
    expect(lines[0]!.split("\n")).toHaveLength(1);
  });

  it.each(["out", "data"])('train --%s "" is refused', async (flag) => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
    expect(await main(["train", `--${flag}`, ""])).toBe(2);
    expect(lines).toEqual([`rankfuse train: --${flag} is empty: give a path`]);
  });

  it("a negative value after a flag is its value, not a flag (--min-lr-ratio -1)", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
    expect(await main(["train", "--min-lr-ratio", "-1"])).toBe(2);
    expect(lines[0]).toMatch(/--min-lr-ratio must be a number >= 0 and <= 1, got "-1"/);
  });
});

describe("output folders", () => {
  it("refuses a file, a path under a file, /proc, and the empty string; accepts a new nested folder", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-out-"));
    const file = path.join(dir, "file");
    fs.writeFileSync(file, "x");
    expect(outDirProblem(file)).toMatch(/is a file, not a folder/);
    expect(outDirProblem(path.join(file, "a", "b"))).toMatch(/cannot write to .*: .*file is a file, not a folder/);
    expect(outDirProblem("")).toMatch(/empty/);
    if (fs.existsSync("/proc/self"))
      expect(outDirProblem("/proc/x")).toMatch(/cannot write to \/proc\/x: cannot make a folder in \/proc/);
    expect(outDirProblem(path.join(dir, "new", "nested"))).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual(["file"]); // the check leaves nothing behind
    makeDirs(path.join(dir, "new", "nested"));
    expect(fs.statSync(path.join(dir, "new", "nested")).isDirectory()).toBe(true);
    fs.rmSync(dir, { recursive: true });
  });

  // root ignores folder permissions, so there a folder the kernel refuses (sysfs) stands in for a read-only one
  const asRoot = process.getuid?.() === 0;
  it(`refuses a folder it may not write in (${asRoot ? "as root: a sysfs folder" : "a folder with mode 555"})`, () => {
    if (asRoot) {
      expect(outDirProblem("/sys/kernel/rankfuse-x")).toMatch(
        /cannot write to .*: cannot make a folder in \/sys\/kernel/,
      );
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-ro-"));
    fs.chmodSync(dir, 0o555);
    expect(outDirProblem(path.join(dir, "run"))).toMatch(/cannot write to .*: cannot make a folder in/);
    fs.chmodSync(dir, 0o755);
    fs.rmSync(dir, { recursive: true });
  });

  it.runIf(fs.existsSync("/proc/self"))("makeDirs under /proc throws at once (Node 20's recursive mkdir spins)", () => {
    const t = performance.now();
    expect(() => makeDirs("/proc/x/y")).toThrow(/ENOENT/);
    expect(performance.now() - t).toBeLessThan(1000);
  });
});

describe("the memory check", () => {
  const tiny = async (method = "cola") => {
    const cfg = resolveConfig("tiny");
    if (E.isLeft(cfg)) throw new Error("tiny");
    const m = await resolveModel(method, cfg.right);
    if (E.isLeft(m)) throw new Error(method);
    return m.right.model;
  };

  it("passes a step that fits, refuses one that does not with how much it needs and how much is free", async () => {
    const m = await tiny();
    expect(() => checkMemory(m, 8, 256, { freeBytes: 1e12 })).not.toThrow();
    expect(() => checkMemory(m, 8, 256, { freeBytes: 1e6 })).toThrow(/needs 0\.\d GB, this machine has 0\.0 GB free/);
    // the parameter count passes (22 MB) but the plan's peak of the step does not
    expect(() => checkMemory(m, 8, 256, { freeBytes: 100e6 })).toThrow(/plan's predicted peak/);
    expect(() => checkMemory(m, 8, 256, { freeBytes: 1e6, skip: true })).not.toThrow();
  });
});

/** The probes of the issue, through the real command: one line, exit 2, no stack trace, quickly. */
describe("the command refuses bad input in one line with exit code 2", () => {
  const short = path.join(os.tmpdir(), `rankfuse-short-${process.pid}.txt`);
  fs.writeFileSync(short, "a text far shorter than one window of 256 bytes.\n".repeat(2));
  it.each([
    [["train", "--min-lr-ratio", "-1"], /--min-lr-ratio must be a number >= 0 and <= 1/],
    [["train", "--min-lr-ratio", "2"], /--min-lr-ratio must be a number >= 0 and <= 1/],
    [["train", "--steps", "1e18"], /--steps must be an integer >= 1/],
    [["train", "--vocab", "100"], /vocabulary \(100, config tiny\) is smaller than the bytes tokenizer's 256/],
    [["train", "--tokenizer", "llama2", "--vocab", "256"], /smaller than the llama2 tokenizer's 32000 tokens/],
    [["train", "--out", "/etc/hostname"], /--out \/etc\/hostname is a file, not a folder/],
    [
      ["train", "--out", "/etc/hostname/run"],
      /cannot write to \/etc\/hostname\/run: \/etc\/hostname is a file, not a folder/,
    ],
    [["train", "--out", ""], /--out is empty/],
    [["train", "--data", ""], /--data is empty/],
    [["train", "--data", short], /training text is too short for --seq 256/],
    [["train", "--data", short, "--seq", "8", "--batch", "64"], /validation text is too short for --batch 64 --seq 8/],
    [["train", "--batch", "16000000"], /needs \d+ GB, this machine has \d+(\.\d)? GB free/],
    [["train", "--seq", "16000000"], /needs \d+ GB, this machine has \d+(\.\d)? GB free/],
    [["train", "--config", "7b"], /cola 7b .* needs \d+ GB, this machine has/],
    [["compare", "--config", "7b"], /7b .* needs \d+ GB, this machine has/],
    [["train", "--width", "65536", "--layers", "64"], /needs \d+ GB, this machine has/],
    [["train", "--method", "full", "--width", "65536", "--heads", "64"], /full tiny .* needs \d+ GB/],
    [["export", "--torch", "/etc/hostname", "--method", "cola"], /--torch \/etc\/hostname is a file/],
    ...(fs.existsSync("/proc/self")
      ? [[["train", "--out", "/proc/x"], /--out cannot write to \/proc\/x: cannot make a folder in \/proc \(ENOENT\)/]]
      : []),
  ])("%j", (args, message) => {
    const r = run(...(args as string[]));
    expect(r.err).toMatch(message as RegExp);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).not.toMatch(/^\s+at /m);
    expect(r.ms).toBeLessThan(10_000);
  });
});
