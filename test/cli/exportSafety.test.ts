import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importTorchWeights } from "../../export/torch/package.ts";
import { trainScriptSource } from "../../export/torch/trainScript.ts";

/**
 * Exports lose nothing and hide nothing: `export` (--to, --merge, --torch) refuses a folder holding files
 * it would overwrite unless --force, and every export carries checksums.json, which `eval --weights`
 * verifies, so one damaged byte is refused by name instead of evaluating to another loss.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const bin = path.join(ROOT, "cli", "bin.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-export-safety-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const text = path.join(tmp, "text.txt");
fs.writeFileSync(text, Array.from({ length: 300 }, (_, i) => `Line ${i}: a quick brown fox.\n`).join(""));
const MODEL = ["--width", "32", "--heads", "2", "--layers", "1", "--ff", "48", "--rank", "8"];
const TORCH = [...MODEL, "--data", text, "--batch", "2", "--seq", "16", "--steps", "1", "--eval-batches", "2"];
const DATA = ["--data", text, "--backend", "reference", "--batch", "2", "--seq", "16", "--eval-batches", "2"];

const rankfuse = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const lossIn = (out: string) => Number(/loss (\d+\.\d+)/.exec(out)?.[1]);
/** A folder of the user's own, holding a model.safetensors and a config.json of theirs. */
const userFolder = (name: string) => {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "model.safetensors"), "the user's own weights");
  fs.writeFileSync(path.join(dir, "config.json"), '{"mine": true}');
  fs.writeFileSync(path.join(dir, "README.md"), "notes");
  return dir;
};
const contents = (dir: string) =>
  Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
/** Flips one bit of the byte at `at` (from the end when negative). */
const damage = (file: string, at: number) => {
  const b = fs.readFileSync(file);
  const i = at < 0 ? b.length + at : at;
  b[i] = b[i]! ^ 1;
  fs.writeFileSync(file, b);
};

const run = path.join(tmp, "relora");
const trained = rankfuse("train", "--method", "relora", ...MODEL, ...DATA, "--steps", "2", "--out", run);

describe("export refuses to overwrite files without --force", () => {
  it("trains the run the tests export", () => expect(trained.code, trained.err).toBe(0));

  it.each([
    ["--to", []],
    ["--to --merge", ["--merge"]],
  ])("%s: a folder holding model.safetensors and config.json is refused in one line, exit 2, untouched", (_, extra) => {
    const dir = userFolder(`user-${extra.length}`);
    const before = contents(dir);
    const r = rankfuse("export", "--run", run, "--to", dir, ...extra);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain(`${dir} already holds model.safetensors, config.json, which the export would overwrite`);
    expect(r.err).toContain("--force");
    expect(contents(dir)).toEqual(before);
  });

  it("--torch: the same, naming the package's files it would overwrite", () => {
    const dir = userFolder("user-torch");
    fs.writeFileSync(path.join(dir, "train.py"), "print('mine')");
    const before = contents(dir);
    const r = rankfuse("export", "--torch", dir, "--method", "cola", ...TORCH);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(
      /user-torch already holds train\.py, config\.json, which the export would overwrite: .*--force/,
    );
    expect(contents(dir)).toEqual(before);
  });

  it("--force overwrites them (and leaves other files alone); a new or empty folder, or one of other files, needs no --force", () => {
    const dir = userFolder("user-force");
    const r = rankfuse("export", "--run", run, "--to", dir, "--force");
    expect(r.code, r.err).toBe(0);
    expect(fs.readFileSync(path.join(dir, "README.md"), "utf8")).toBe("notes");
    expect(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"))).toMatchObject({
      rankfuse: { method: "relora" },
    });
    const empty = path.join(tmp, "empty");
    fs.mkdirSync(empty);
    expect(rankfuse("export", "--run", run, "--to", empty).code).toBe(0);
    const other = path.join(tmp, "other");
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, "README.md"), "notes");
    expect(rankfuse("export", "--run", run, "--to", other).code).toBe(0);
    expect(fs.readFileSync(path.join(other, "README.md"), "utf8")).toBe("notes");
    expect(rankfuse("export", "--run", run, "--to", path.join(tmp, "new", "deeper")).code).toBe(0);
  });
});

describe("exports carry checksums.json, verified on import", () => {
  const exported = (name: string) => {
    const dir = path.join(tmp, name);
    const r = rankfuse("export", "--run", run, "--to", dir);
    expect(r.code, r.err).toBe(0);
    return dir;
  };

  it("an export evaluates to the run's loss, verified, with no note", () => {
    const dir = exported("good");
    const sums = JSON.parse(fs.readFileSync(path.join(dir, "checksums.json"), "utf8"));
    expect(Object.keys(sums.sha256).sort()).toEqual(["config.json", "model.safetensors"]);
    const own = rankfuse("eval", "--run", run, ...DATA);
    const e = rankfuse("eval", "--weights", dir, ...DATA);
    expect(e.code, e.err).toBe(0);
    expect(e.err).not.toMatch(/note/);
    expect(lossIn(e.out)).toBeCloseTo(lossIn(own.out), 4);
  });

  it.each([
    ["model.safetensors", -5], // a weight's byte
    ["config.json", 3],
  ])("one damaged byte of %s is refused, naming the file", (file, at) => {
    const dir = exported(`damaged-${file}`);
    damage(path.join(dir, file), at);
    const e = rankfuse("eval", "--weights", dir, ...DATA);
    expect(e.code).not.toBe(0);
    expect(e.out).toBe("");
    expect(e.err.trim().split("\n")).toHaveLength(1);
    expect(e.err).toContain(
      `${path.join(dir, file)} does not match its sha256 in checksums.json: the file is damaged or was changed after the export`,
    );
  });

  it("an export without checksums.json (an older rankfuse's, another tool's) is read with a note", () => {
    const dir = exported("unverified");
    fs.rmSync(path.join(dir, "checksums.json"));
    const e = rankfuse("eval", "--weights", dir, ...DATA);
    expect(e.code, e.err).toBe(0);
    expect(e.err.trim()).toBe(
      `note: ${dir} has no checksums.json (written by an older rankfuse or another tool): its files are read unverified`,
    );
  });

  it("a PyTorch package's checksums.json covers each of its files; its damaged weights are refused by name", async () => {
    const pkg = path.join(tmp, "pkg");
    const r = rankfuse("export", "--torch", pkg, "--method", "cola", ...TORCH);
    expect(r.code, r.err).toBe(0);
    const sums = JSON.parse(fs.readFileSync(path.join(pkg, "checksums.json"), "utf8"));
    expect(Object.keys(sums.sha256).sort()).toEqual([
      "config.json",
      "data/eval_batches.bin",
      "data/train_batches.bin",
      "modeling.py",
      "train.py",
      "weights.safetensors",
    ]);
    const good = await importTorchWeights(pkg);
    expect(E.isRight(good) && good.right.note).toBe(undefined);
    damage(path.join(pkg, "weights.safetensors"), -1);
    const bad = await importTorchWeights(pkg);
    expect(E.isLeft(bad) && bad.left.message).toMatch(/pkg\/weights\.safetensors does not match its sha256/);
  });

  const python = spawnSync("python3", ["--version"]).status === 0;
  it.skipIf(!python)("train.py's write_checksums writes what import verifies", async () => {
    const pkg = path.join(tmp, "pkg-py");
    const r = rankfuse("export", "--torch", pkg, "--method", "cola", ...TORCH);
    expect(r.code, r.err).toBe(0);
    // what train.py saves: OUT/weights.safetensors and OUT/config.json, then write_checksums (torch not needed)
    const out = path.join(tmp, "pkg-py-out");
    fs.mkdirSync(out);
    for (const f of ["weights.safetensors", "config.json"]) fs.copyFileSync(path.join(pkg, f), path.join(out, f));
    const src = trainScriptSource({ version: "test", method: "cola" });
    const fn = /\ndef write_checksums[\s\S]*?\n\n\n/.exec(src)?.[0];
    expect(fn).toBeDefined();
    const script = `import hashlib, json, os\n${fn}\nwrite_checksums(${JSON.stringify(out)}, ["weights.safetensors", "config.json"])\n`;
    const py = spawnSync("python3", ["-c", script], { encoding: "utf8" });
    expect(py.status, py.stderr).toBe(0);
    const back = await importTorchWeights(out);
    if (E.isLeft(back)) throw new Error(back.left.message);
    expect(back.right.note).toBe(undefined);
    damage(path.join(out, "weights.safetensors"), -1);
    const bad = await importTorchWeights(out);
    expect(E.isLeft(bad) && bad.left.message).toMatch(/pkg-py-out\/weights\.safetensors does not match its sha256/);
  });
});
