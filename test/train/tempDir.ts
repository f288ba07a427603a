/** A fresh temporary directory, removed when the current test finishes. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onTestFinished } from "vitest";

export const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-train-"));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
};
