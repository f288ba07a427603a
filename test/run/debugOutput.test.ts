import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const demo = (env: Record<string, string>) =>
  spawnSync(process.execPath, ["cli/bin.js", "demo"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "reference", ...env },
  });

describe("the environment variables README's DSL section documents", () => {
  it("RANKFUSE_PROFILE=1 prints a per-primitive table at exit", () => {
    const r = demo({ RANKFUSE_PROFILE: "1" });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("[rankfuse] profile:");
    expect(r.stderr).toMatch(/matmul\s+\d+ ms\s+[\d.]+%\s+\d+ calls/);
  });

  it("RANKFUSE_DEBUG=2 prints the plan and both graphs; unset prints nothing", () => {
    const r = demo({ RANKFUSE_DEBUG: "2" });
    expect(r.stderr).toContain("[rankfuse] compiled for reference");
    expect(r.stderr).toContain("traced graph:");
    expect(r.stderr).toMatch(/plan: \d+ kernels/);
    expect(demo({}).stderr).not.toContain("[rankfuse]");
  });
});
