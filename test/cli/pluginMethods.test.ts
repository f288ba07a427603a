import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { cliTextFixture, ROOT } from "../helpers/cliText.ts";
import { readCheckpointConfig } from "../../train/checkpoint.ts";
import { unwrap } from "../../testing/unwrap.ts";

/**
 * The examples' methods as a user runs them: from their files, through every command that takes a
 * method or a run (train, resume, eval, export, eval of the export, compare, inspect), on a small model
 * and a small text; and a method file edited after training, which resume, eval and export refuse.
 */
const { tmp, text, rankfuse } = cliTextFixture("rankfuse-plugins-");
const MODEL = ["--width", "32", "--heads", "2", "--layers", "1", "--ff", "48", "--rank", "8"];
const DATA = ["--data", text, "--backend", "reference", "--batch", "2", "--seq", "16", "--eval-batches", "1"];
const TRAIN = [...MODEL, ...DATA, "--steps", "3", "--eval-every", "0"];

/** Runs a command that must succeed; returns its stdout. */
const ok = (...args: string[]) => {
  const r = rankfuse(...args);
  expect(r.code, r.err).toBe(0);
  return r.out;
};

describe.each(["colaGelu", "twoStageLowRank"])("rankfuse with the method in examples/%s.ts", (name) => {
  const file = `./examples/${name}.ts`;
  const run = path.join(tmp, name);

  it("trains it, resumes it, evaluates and exports the run, and evaluates the export", () => {
    expect(ok("train", "--method", file, ...TRAIN, "--out", run)).toMatch(/^done: 3 steps, .* validation loss \d/m);
    const recorded = JSON.parse(unwrap(readCheckpointConfig(run))).methodFile;
    expect(recorded).toEqual({
      path: path.join(ROOT, "examples", `${name}.ts`),
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(ok("train", "--method", file, ...TRAIN, "--out", run, "--resume")).toMatch(
      /^already finished: 3 steps in .*; nothing was changed$/m,
    );
    expect(ok("eval", "--run", run, ...DATA)).toMatch(new RegExp(`^${name} tiny at step 3 on .*: loss \\d`, "m"));
    const exported = path.join(tmp, `${name}-export`);
    expect(ok("export", "--run", run, "--to", exported)).toContain(`(${name} tiny, step 3)`);
    const config = JSON.parse(fs.readFileSync(path.join(exported, "config.json"), "utf8"));
    expect(config.rankfuse).toMatchObject({
      method: name,
      methodFile: { path: path.join(ROOT, "examples", `${name}.ts`) },
    });
    expect(ok("eval", "--weights", exported, ...DATA)).toMatch(new RegExp(`^${name} tiny on .*: loss \\d`, "m"));
  });

  it("inspects it", () => {
    expect(ok("inspect", "--method", file, ...MODEL, "--seq", "16")).toMatch(
      new RegExp(`^${name} tiny: .*\\n^parameters: `, "m"),
    );
  });
});

describe("a method file of the user's", () => {
  it("compare trains it next to a built-in", () => {
    const out = ok("compare", "--methods", "full,./examples/colaGelu.ts", ...TRAIN, "--out", path.join(tmp, "compare"));
    expect(out).toMatch(/^\| full +\|/m);
    expect(out).toMatch(/^\| colaGelu +\|/m);
  });

  it("changed after training: resume, eval and export refuse it in one line naming the file", () => {
    const project = path.join(tmp, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, "package.json"), '{ "type": "module" }');
    const mine = path.join(project, "mine.ts");
    fs.copyFileSync(path.join(ROOT, "examples", "colaGelu.ts"), mine);
    const run = path.join(project, "run");
    ok("train", "--method", mine, ...TRAIN, "--out", run);
    fs.appendFileSync(mine, "\n// a tweak after training\n");
    for (const args of [
      ["train", "--method", mine, ...TRAIN, "--out", run, "--resume"],
      ["eval", "--run", run, ...DATA],
      ["export", "--run", run, "--to", path.join(project, "export")],
    ]) {
      const r = rankfuse(...args);
      expect(r.code).not.toBe(0);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toContain(`method file ${mine} has changed since it trained ${run}`);
    }
    expect(fs.existsSync(path.join(project, "export"))).toBe(false);
  });

  it.each([
    [["train", "--method", "./examples/nope.ts"], /method file \.\/examples\/nope\.ts: no such file/],
    [["train", "--method", "./examples/hostMath.ts"], /method file \.\/examples\/hostMath\.ts exports no method/],
    [["compare", "--methods", "colaGelu.ts"], /method file colaGelu\.ts: no such file/],
  ])("%j is refused in one line with exit code 2", (args, message) => {
    const r = rankfuse(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message as RegExp);
  });
});
