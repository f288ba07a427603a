import { describe, expect, it, onTestFinished } from "vitest";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { loadCheckpoint } from "../../train/checkpoint.ts";

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const SMALL = [
  "--width",
  "32",
  "--heads",
  "2",
  "--layers",
  "1",
  "--ff",
  "48",
  "--rank",
  "8",
  "--seq",
  "16",
  "--batch",
  "2",
  "--backend",
  "wasm",
  "--eval-every",
  "0",
];

/** Runs the CLI, sending `signal` once stderr shows training has passed step 1; resolves with the exit code. */
function runAndSignal(args: string[], signal: NodeJS.Signals): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, RANKFUSE_BACKEND: "" } });
    // a run that ignored the signal must not outlive a failed or timed-out test (it would train for hours)
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
    let err = "",
      sent = false;
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (!sent && /cola +\d{2,}\/\d+/.test(err)) ((sent = true), child.kill(signal));
    });
    child.on("close", (code) => resolve({ code, err }));
  });
}

/** A run stopped by SIGINT or SIGTERM (a scheduler's preemption) checkpoints and exits 130 (resume equality is tested in test/train/loop.test.ts). */
describe("rankfuse train stops cleanly on a signal", () => {
  it.each(["SIGINT", "SIGTERM"] as const)(
    "%s: stops after the current step, writes a checkpoint, exits with code 130",
    async (signal) => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-signal-"));
      try {
        const args = ["train", "--method", "cola", "--steps", "100000", "--out", out, ...SMALL];
        const r = await runAndSignal(args, signal);
        expect(r.err).toMatch(/stopping after this step/);
        expect(r.code).toBe(130);
        const ck = loadCheckpoint(out);
        expect(ck._tag).toBe("Right");
        const stoppedAt = ck._tag === "Right" ? ck.right.step : -1;
        expect(stoppedAt).toBeGreaterThanOrEqual(10);
        expect(stoppedAt).toBeLessThan(100000);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
