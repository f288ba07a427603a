import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `rankfuse export` and `export --merge` from runs as a user calls them: a ReLoRA run merged into a dense
 * LLaMA evaluates to the run's own loss, and CoLA's merge is refused in one line without writing a file.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const bin = path.join(ROOT, "cli", "bin.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-export-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const text = path.join(tmp, "text.txt");
fs.writeFileSync(text, Array.from({ length: 300 }, (_, i) => `Line ${i}: a quick brown fox.\n`).join(""));
const MODEL = ["--width", "32", "--heads", "2", "--layers", "1", "--ff", "48", "--rank", "8"];
const DATA = ["--data", text, "--backend", "reference", "--batch", "2", "--seq", "16", "--eval-batches", "2"];

const rankfuse = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const lossIn = (out: string) => Number(/loss (\d+\.\d+)/.exec(out)?.[1]);

describe("rankfuse export --merge", () => {
  it("writes a ReLoRA run as a dense LlamaForCausalLM that evaluates to the run's loss", () => {
    const run = path.join(tmp, "relora");
    expect(rankfuse("train", "--method", "relora", ...MODEL, ...DATA, "--steps", "4", "--out", run).code).toBe(0);
    const merged = path.join(tmp, "relora-merged");
    const r = rankfuse("export", "--run", run, "--to", merged, "--merge");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("(relora tiny merged into a dense LLaMA, step 4)");
    const config = JSON.parse(fs.readFileSync(path.join(merged, "config.json"), "utf8"));
    expect(config).toMatchObject({ architectures: ["LlamaForCausalLM"], rankfuse: { method: "full" } });
    const own = rankfuse("eval", "--run", run, ...DATA);
    const dense = rankfuse("eval", "--weights", merged, ...DATA);
    expect(dense.code, dense.err).toBe(0);
    expect(lossIn(dense.out)).toBeCloseTo(lossIn(own.out), 3);
  });

  it("refuses CoLA in one line, exit 1, writing nothing", () => {
    const run = path.join(tmp, "cola");
    expect(rankfuse("train", "--method", "cola", ...MODEL, ...DATA, "--steps", "1", "--out", run).code).toBe(0);
    const to = path.join(tmp, "cola-merged");
    const r = rankfuse("export", "--run", run, "--to", to, "--merge");
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(
      /^rankfuse export --merge: cola has no dense LLaMA form: blocks\.0\.q: it applies silu to a value that depends on its input$/,
    );
    expect(fs.existsSync(to)).toBe(false);
  });
});
