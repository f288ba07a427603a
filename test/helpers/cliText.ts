/** What a CLI test file needs: the CLI's entry, a temporary folder and a small text in it (removed after the file). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `cli/bin.js`, a fresh folder named after `prefix`, and 400 lines of text in it. */
export function cliTextFixture(prefix: string): { bin: string; tmp: string; text: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const text = path.join(tmp, "text.txt");
  fs.writeFileSync(
    text,
    Array.from({ length: 400 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog.\n`).join(""),
  );
  return { bin: path.join(ROOT, "cli", "bin.js"), tmp, text };
}
