import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const layerFile = "bench/layers/geluCola.ts"; // relative to ROOT, where the command runs
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ["cli/bin.js", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** `rankfuse bench fusion --layer FILE`: a user's layer file timed fused against unfused (structure only, never speed). */
describe("rankfuse bench fusion", () => {
  it("prints its help, with the layer file's exports", () => {
    const r = run("bench", "fusion", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("rankfuse bench fusion");
    expect(r.out).toMatch(/export const shapes = /);
  });

  it("times the shipped layer file at tiny sizes, prints the table and saves the JSON", () => {
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-cli-")), "fusion.json");
    const r = run("bench", "fusion", "--layer", layerFile, "--dims", "n=8,d=16,r=4", "--rounds", "2", "--json", json);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^GELU CoLA layer on \S+ /);
    expect(r.out).toMatch(/\| forward +\|/);
    expect(r.out).toMatch(/\| forward\+backward +\|/);
    const saved = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(saved.dims).toEqual({ n: 8, d: 16, r: 4 });
    expect(saved.passes.map((p: { unfused: { ms: number[] } }) => p.unfused.ms.length)).toEqual([2, 2]);
  });

  it.each([
    [["bench", "nope"], /unknown benchmark "nope"/],
    [["bench", "fusion"], /--layer FILE is required/],
    [
      ["bench", "fusion", "--layer", "/definitely/not/here.ts"],
      /cannot read layer file \/definitely\/not\/here\.ts: no such file/,
    ],
    [["bench", "fusion", "--layer", layerFile, "--dims", "n=zero"], /--dims must look like n=256,d=128/],
    [["bench", "fusion", "--layer", layerFile, "--pass", "sideways"], /--pass must be one of/],
    [["bench", "fusion", "--layer", layerFile, "--backend", "tpu"], /unknown backend "tpu"/],
    [["bench", "fusion", "--layer", "bench/stats.ts"], /stats\.ts exports no layer/],
  ])("%j is refused in one line with exit code 2", (args, message) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message as RegExp);
  });

  it("an unsized dim, or a layer that throws while traced, is one line and exit code 1", () => {
    // copies of the shipped layer file outside the repository: one without its dims, one whose layer throws
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-layer-"));
    fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }');
    const index = JSON.stringify(fileURLToPath(new URL("../../index.ts", import.meta.url)));
    const src = fs.readFileSync(path.join(ROOT, layerFile), "utf8").replace('"../../index.ts"', index);
    fs.writeFileSync(path.join(dir, "nodims.ts"), src.replace(/export const dims = .*\n/, ""));
    const throwing = `${src.replace("export const layer =", "const plain =")}
export default { layer: () => { throw new TypeError("my bug"); }, shapes };\n`;
    fs.writeFileSync(path.join(dir, "throws.ts"), throwing);
    const unsized = run(
      "bench",
      "fusion",
      "--layer",
      path.join(dir, "nodims.ts"),
      "--dims",
      "n=4",
      "--backend",
      "reference",
    );
    expect(unsized.code).toBe(1);
    expect(unsized.err.trim()).toBe(
      'rankfuse bench: GELU CoLA layer: UnboundDim: dim "d" has no size: give it one in dims (--dims d=<size>)',
    );
    const r = run(
      "bench",
      "fusion",
      "--layer",
      path.join(dir, "throws.ts"),
      "--dims",
      "n=4,d=4,r=2",
      "--backend",
      "reference",
    );
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe("rankfuse bench: throws: my bug");
  });
});
