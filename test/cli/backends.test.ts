import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "", ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const cudaInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve("@tensorflow/tfjs-node-gpu");
    return true;
  } catch {
    return false;
  }
})();
if (cudaInstalled)
  console.warn(
    "skipped: the missing-cuda hint: @tensorflow/tfjs-node-gpu is installed here, so there is nothing to refuse",
  );

/** Backend selection from the command line: the cuda hint where tfjs-node-gpu is absent, an unknown name, and `rankfuse backends`. */
describe("rankfuse backends and --backend", () => {
  // tfjs-node-gpu is not a dependency; where someone installed it, this machine has nothing to refuse
  it.skipIf(cudaInstalled).each([
    ["train --backend cuda", ["train", "--backend", "cuda"], {}],
    ["RANKFUSE_BACKEND=cuda demo", ["demo"], { RANKFUSE_BACKEND: "cuda" }],
  ])("%s says in one line what to install and exits non-zero", (_, args, env) => {
    const r = run(args as string[], env as Record<string, string>);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(
      /backend cuda needs @tensorflow\/tfjs-node-gpu, which is not installed: .*CUDA 11\.2 and cuDNN 8\.1.*npm install @tensorflow\/tfjs-node-gpu@4\.22/,
    );
  });

  it.each([
    ["train --backend tpu", ["train", "--backend", "tpu"], {}],
    ["RANKFUSE_BACKEND=tpu demo", ["demo"], { RANKFUSE_BACKEND: "tpu" }],
  ])("%s names every choice in one line and exits non-zero", (_, args, env) => {
    const r = run(args as string[], env as Record<string, string>);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain('unknown backend "tpu": choose one of auto, cuda, webgpu, native, wasm, cpu, reference');
  });

  it("lists every backend with its availability, and what auto picks and why", () => {
    const r = run(["backends"]);
    expect(r.code).toBe(0);
    const rows = new Map(
      [...r.out.matchAll(/^(\w+) +(available|unavailable) +(.*)$/gm)].map((m) => [
        m[1]!,
        { status: m[2]!, info: m[3]! },
      ]),
    );
    expect([...rows.keys()]).toEqual(["cuda", "webgpu", "native", "wasm", "cpu", "reference"]);
    expect(rows.get("reference")!.status).toBe("available");
    const webgpu = rows.get("webgpu")!;
    // an available webgpu names its adapter and says whether it is software; an unavailable one says why
    expect(webgpu.info).toMatch(webgpu.status === "available" ? /via Dawn .*, (software|hardware) adapter$/ : /\S/);
    const auto = r.out.match(/^auto -> (\w+) \(order: cuda, webgpu, native, wasm, cpu\)$/m);
    expect(auto).not.toBeNull();
    expect(rows.get(auto![1]!)?.status).toBe("available");
    // every backend auto passed over is listed with a reason
    const order = ["cuda", "webgpu", "native", "wasm", "cpu"];
    const passed = [...r.out.matchAll(/^ {2}passed over: (.+)$/gm)].map((m) => m[1]!);
    expect(passed).toHaveLength(order.indexOf(auto![1]!));
    if (webgpu.status === "available" && / software adapter$/.test(webgpu.info))
      expect(passed.some((p) => p.startsWith("webgpu: "))).toBe(true);
  });
});
