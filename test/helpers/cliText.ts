/** What a CLI test file needs: the CLI's entry, a temporary folder and a small text in it (removed after the file). */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What a command run through `rankfuse(...)` gave: exit code, stdout, stderr. */
export type CliResult = { code: number | null; out: string; err: string };

/**
 * `cli/bin.js`, a fresh folder named after `prefix`, 400 lines of text in it, and `rankfuse(...args)`,
 * which runs the CLI from the package root with no backend chosen by the environment.
 */
export function cliTextFixture(prefix: string): {
  bin: string;
  tmp: string;
  text: string;
  rankfuse: (...args: string[]) => CliResult;
} {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const text = path.join(tmp, "text.txt");
  fs.writeFileSync(
    text,
    Array.from({ length: 400 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog.\n`).join(""),
  );
  const bin = path.join(ROOT, "cli", "bin.js");
  const rankfuse = (...args: string[]): CliResult => {
    const r = spawnSync(process.execPath, [bin, ...args], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, RANKFUSE_BACKEND: "" },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  return { bin, tmp, text, rankfuse };
}
