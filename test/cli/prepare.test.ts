import { describe, expect, it, onTestFinished } from "vitest";
import { spawnSync, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-cli-"));
  onTestFinished(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};
const run = (cache: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, RANKFUSE_BACKEND: "", RANKFUSE_CACHE_DIR: cache },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe("rankfuse prepare / cache", () => {
  it.each([["prepare"], ["cache"]])("%s --help", (cmd) => {
    const r = run(tmp(), cmd, "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`rankfuse ${cmd}`);
  });

  it("refuses a FIFO and /dev/zero at once, in one line with exit code 2", () => {
    const dir = tmp();
    const fifo = path.join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    for (const [args, msg] of [
      [["prepare", "--data", fifo], /is a FIFO/],
      [["prepare", "--data", "/dev/zero"], /is a character device/],
      [["train", "--data", fifo, "--steps", "1"], /is a FIFO/],
    ] as const) {
      const t = Date.now();
      const r = run(dir, ...args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toMatch(msg);
      expect(Date.now() - t).toBeLessThan(15_000);
    }
  });

  it("prepares into --out, reuses it, trains from it, lists and clears the cache", () => {
    const dir = tmp();
    const cache = path.join(dir, "cache");
    const data = path.join(dir, "data.jsonl");
    fs.writeFileSync(
      data,
      Array.from({ length: 400 }, (_, i) => JSON.stringify({ body: `document ${i}: some words here.` })).join("\n"),
    );
    const out = path.join(dir, "prepared");
    const p = run(cache, "prepare", "--data", data, "--text-field", "body", "--out", out);
    expect(p.err).toBe("");
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^prepared: /);
    expect(fs.readdirSync(out).sort()).toEqual(["manifest.json", "train.bin", "val.bin"]);
    const m = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8"));
    expect(m).toMatchObject({ tokenizer: "bytes", dtype: "uint16", textField: "body" });
    expect(run(cache, "prepare", "--data", data, "--text-field", "body", "--out", out).out).toMatch(
      /^already prepared/,
    );
    const t = run(cache, "train", "--data", out, "--steps", "1", "--batch", "2", "--seq", "32", "--eval-batches", "1");
    expect(t.code).toBe(0);
    expect(run(cache, "cache").out).toMatch(/0 entries/);
    // train on the file itself prepares into the cache
    expect(run(cache, "prepare", "--data", data, "--text-field", "body").code).toBe(0);
    const listed = run(cache, "cache").out;
    expect(listed).toMatch(/1 entry/);
    expect(listed).toContain(data);
    expect(run(cache, "cache", "clear").out).toMatch(/cleared 1 entry/);
    expect(fs.readdirSync(path.join(cache, "tokens"))).toEqual([]);
  }, 60_000);
});
