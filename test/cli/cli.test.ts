import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Every command has --help; a bad flag, an unknown model or unreadable data is one line and exit code 2. */
describe("rankfuse CLI", () => {
  it.each(["train", "compare", "eval", "export", "inspect", "demo", "backends"])("%s --help", (cmd) => {
    const r = run(cmd, "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`rankfuse ${cmd}`);
  });

  it.each([
    [["train", "--bogus"], /Unknown option '--bogus'/],
    [["train", "--method", "nope"], /unknown model "nope"/],
    [["train", "--model", "nope"], /unknown model "nope"/],
    [["inspect", "--method", "nope"], /unknown model "nope"/],
    [["train", "--method", "cola", "--model", "full"], /--method "cola" and --model "full" disagree/],
    [["compare", "--methods", "full,nope"], /unknown model "nope"/],
    [["train", "--lr", "fast"], /--lr must be a number/],
    [["train", "--config", "huge"], /unknown config "huge"/],
    [["train", "--rank", "999"], /rank 999 is larger than the width d = 256/],
    [["train", "--data", "/definitely/not/here"], /cannot read data path \/definitely\/not\/here/],
    [["train", "--backend", "tpu"], /unknown backend "tpu"/],
    [["eval", "--run", "/definitely/not/here"], /no checkpoint in \/definitely\/not\/here/],
    [["frobnicate"], /unknown command "frobnicate"/],
  ])("%j is refused in one line with exit code 2", (args, message) => {
    const r = run(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message as RegExp);
  });

  it("a reader that closes the pipe early (| head) gets no stack trace and exit code 0", () => {
    const r = spawnSync(
      "bash",
      ["-c", `set -o pipefail; "${process.execPath}" "${bin}" inspect --config tiny --verbose | head -1`],
      { encoding: "utf8" },
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    expect(r.status).toBe(0);
  });

  it("inspect prints the 60M CoLA parameter count and a plan", () => {
    const r = run("inspect", "--model", "cola", "--config", "60m");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/parameters: 42\.8M total = 32\.8M embedding .* \+ 10M non-embedding/);
    expect(r.out).toMatch(/plan of one training step .*: \d+ kernels/);
  });

  it("inspect --remat colaM --measure prints predicted and measured peaks, which agree", () => {
    const r = run(
      "inspect",
      "--model",
      "cola",
      "--width",
      "32",
      "--heads",
      "2",
      "--layers",
      "2",
      "--ff",
      "48",
      "--rank",
      "8",
      "--seq",
      "16",
      "--batch",
      "2",
      "--remat",
      "colaM",
      "--measure",
      "--backend",
      "reference",
    );
    expect(r.code).toBe(0);
    const rows = [...r.out.matchAll(/(saveAll|colaM) +measured peak +(\S+)B \(predicted (\S+)B\)/g)];
    expect(rows.map((m) => m[1])).toEqual(["saveAll", "colaM"]);
    rows.forEach((m) => expect(m[2]).toBe(m[3]));
    const saves = r.out.match(/colaM saves: (.*); recomputes/)?.[1] ?? "";
    expect(
      saves
        .split(", ")
        .map((s) => s.split(" ")[0])
        .sort(),
    ).toEqual(["block_input", "cola_act", "head_logits"]);
  });
});
