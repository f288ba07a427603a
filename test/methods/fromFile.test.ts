import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { resolveConfig } from "../../models/config.ts";
import { isMethodPath, loadMethodFile } from "../../methods/fromFile.ts";
import { rebuildModel, resolveMethod, resolveModel } from "../../methods/resolve.ts";
import { buildModel } from "../../methods/method.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "../train/tempDir.ts";

const cfg = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);

/** A temporary ES-module folder holding `files`; returns its path. */
function project(files: Record<string, string>): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** A method file whose build is `build` (JavaScript source), built on the public entry point. */
const methodFile = (build: string, name = "mine") => `
import { assembleModel, declare, dense, denseProj } from "rankfuse/models";
export default {
  name: ${JSON.stringify(name)},
  summary: "dense, from a file",
  build: (cfg) => ${build},
};`;
const DENSE = `assembleModel("mine", cfg, declare(cfg, dense), { proj: denseProj, gateSilu: true })`;

/** The message of a refused load. */
async function refusal(file: string, cwd: string): Promise<string> {
  const r = await loadMethodFile(file, { cwd });
  if (E.isRight(r)) throw new Error(`${file} loaded`);
  expect(r.left.tag).toBe("ConfigError");
  expect(r.left.message).not.toContain("\n");
  return r.left.message;
}

describe("methods from the user's files", () => {
  it("tells paths from built-in names", () => {
    for (const p of ["./m.ts", "../x/m.js", "/abs/m.mjs", "m.mts", ".\\m.ts"]) expect(isMethodPath(p)).toBe(true);
    for (const n of ["cola", "full", "colaM", "lowrankFfn"]) expect(isMethodPath(n)).toBe(false);
  });

  it("loads a default export (or one named method), records its path and content hash, and builds its model", async () => {
    const dir = project({
      "a.mjs": methodFile(DENSE),
      "b.mjs": methodFile(DENSE).replace("export default", "export const method ="),
    });
    for (const f of ["./a.mjs", "./b.mjs"]) {
      const r = unwrap(await loadMethodFile(f, { cwd: dir }));
      expect(r.method.name).toBe("mine");
      expect(r.source.path).toBe(path.join(dir, f));
      expect(r.source.sha256).toMatch(/^[0-9a-f]{64}$/);
      const model = unwrap(buildModel(r.method, cfg));
      expect(model.method).toBe("mine");
      expect(model.counts.total).toBeGreaterThan(0);
    }
  });

  it("imports a file edited since it was last imported afresh, in the same process", async () => {
    const dir = project({ "m.mjs": methodFile(DENSE, "before") });
    const first = unwrap(await loadMethodFile("./m.mjs", { cwd: dir }));
    fs.writeFileSync(path.join(dir, "m.mjs"), methodFile(DENSE, "after"));
    const second = unwrap(await loadMethodFile("./m.mjs", { cwd: dir }));
    expect([first.method.name, second.method.name]).toEqual(["before", "after"]);
    expect(second.source.sha256).not.toBe(first.source.sha256);
  });

  it("refuses, in one line naming the file: a missing file, another extension, a throw at import, no method, a non-Method", async () => {
    const dir = project({
      "throws.mjs": 'throw new Error("no GPU here");',
      "syntax.mjs": "export default {",
      "none.mjs": "export const x = 1;",
      "bad.mjs": 'export default { name: "has space", build: 3 };',
      "notes.txt": "hello",
    });
    expect(await refusal("./missing.ts", dir)).toMatch(/^method file \.\/missing\.ts: no such file \(.*missing\.ts\)$/);
    expect(await refusal("./notes.txt", dir)).toContain(
      "method file ./notes.txt: expected a .ts, .mts, .js, .mjs file",
    );
    expect(await refusal("./throws.mjs", dir)).toBe("method file ./throws.mjs: importing it failed: no GPU here");
    expect(await refusal("./syntax.mjs", dir)).toMatch(/^method file \.\/syntax\.mjs: importing it failed: /);
    expect(await refusal("./none.mjs", dir)).toMatch(/^method file \.\/none\.mjs exports no method: default-export/);
    const bad = await refusal("./bad.mjs", dir);
    expect(bad).toMatch(/^method file \.\/bad\.mjs: its export is not a Method: name must be/);
    expect(bad).toContain("summary must be a string, got undefined");
    expect(bad).toContain("build must be a function");
  });

  it("turns a build that throws, fails or returns no model into a ConfigError naming the method and file", async () => {
    const dir = project({
      "throws.mjs": methodFile('(() => { throw new Error("rank must be even"); })()'),
      "left.mjs": methodFile('({ _tag: "Left", left: { tag: "ConfigError", message: "mine: no" } })'),
      "junk.mjs": methodFile("({ loss: 1 })"),
      "right.mjs": methodFile(`({ _tag: "Right", right: ${DENSE} })`),
    });
    const build = async (f: string) => buildModel(unwrap(await loadMethodFile(f, { cwd: dir })).method, cfg);
    const message = async (f: string) => {
      const r = await build(f);
      return E.isLeft(r) ? r.left.message : "built";
    };
    expect(await message("./throws.mjs")).toBe("method mine (./throws.mjs): build threw: rank must be even");
    expect(await message("./left.mjs")).toBe("mine: no");
    expect(await message("./junk.mjs")).toMatch(
      /^method mine \(\.\/junk\.mjs\): build returned no model \(init is not/,
    );
    expect(E.isRight(await build("./right.mjs"))).toBe(true);
  });

  it("resolves a name to a built-in and a path to a file, and builds either", async () => {
    const dir = project({ "m.mjs": methodFile(DENSE) });
    const builtin = unwrap(await resolveMethod("cola"));
    expect([builtin.method.name, builtin.source]).toEqual(["cola", undefined]);
    expect(unwrap(await resolveMethod("./m.mjs", dir)).source?.path).toBe(path.join(dir, "m.mjs"));
    expect(unwrap(await resolveModel("full", cfg)).model.method).toBe("full");
    const unknown = await resolveMethod("nope");
    expect(E.isLeft(unknown) && unknown.left.message).toMatch(/^unknown model "nope"/);
  });

  it("rebuilds a recorded method, and refuses a file that changed or went missing, naming the file and the run", async () => {
    const dir = project({ "m.mjs": methodFile(DENSE) });
    const file = path.join(dir, "m.mjs");
    const { source } = unwrap(await loadMethodFile(file));
    const record = { method: "mine", methodFile: source };
    expect(unwrap(await rebuildModel(record, cfg, "runs/a")).method).toBe("mine");
    expect(unwrap(await rebuildModel({ method: "cola" }, cfg, "runs/a")).method).toBe("cola");

    fs.appendFileSync(file, "\n// tweaked\n");
    const changed = await rebuildModel(record, cfg, "runs/a");
    expect(E.isLeft(changed) && changed.left.message).toMatch(
      new RegExp(
        `^method file ${file} has changed since it trained runs/a \\(sha256 [0-9a-f]{12}… then, [0-9a-f]{12}… now\\)`,
      ),
    );
    fs.rmSync(file);
    const missing = await rebuildModel(record, cfg, "runs/a");
    expect(E.isLeft(missing) && missing.left.message).toBe(`method file ${file} (which trained runs/a): no such file`);
  });
});
