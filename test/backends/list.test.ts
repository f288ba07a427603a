import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AUTO_ORDER, BACKEND_NAMES, BACKENDS, backendChoices, loadBackend } from "../../backends/index.ts";
import { cudaModule } from "../../backends/cuda/index.ts";
import { CUDA_INSTALL, CUDA_PACKAGE, cudaInstalled } from "../../backends/cuda/backend.ts";

/**
 * The backend list: one module per backend folder, names and auto's order derived from it, and loading
 * that answers with a value, never a throw, for a name that is unknown or a backend that cannot run here.
 */
const backendsDir = fileURLToPath(new URL("../../backends/", import.meta.url));
const hasCuda = await cudaInstalled();
const isModule = (x: unknown): x is { name: string } =>
  typeof x === "object" &&
  x !== null &&
  typeof (x as { load?: unknown }).load === "function" &&
  typeof (x as { priority?: unknown }).priority === "number";

describe("the backend list", () => {
  it("names are unique, and BACKEND_NAMES is the list's names in order", () => {
    const names = BACKENDS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    expect(BACKEND_NAMES).toEqual(names);
    expect(backendChoices()).toBe(`auto, ${names.join(", ")}`);
  });

  it("every backend folder's module is in the list, under its folder's name", async () => {
    const folders = readdirSync(backendsDir, { withFileTypes: true }).filter(
      (d) => d.isDirectory() && existsSync(`${backendsDir}${d.name}/index.ts`),
    );
    const found: string[] = [];
    for (const d of folders) {
      const exported = Object.values(await import(`${backendsDir}${d.name}/index.ts`)).filter(isModule);
      for (const m of exported) {
        expect(m.name).toBe(d.name);
        expect(BACKENDS).toContain(m);
        found.push(m.name);
      }
    }
    expect(found.sort()).toEqual([...BACKEND_NAMES].sort());
  });

  it("auto's order is the list by priority, highest first, and never includes reference", () => {
    expect(AUTO_ORDER).toEqual(["cuda", "webgpu", "native", "wasm", "cpu"]);
    const priority = new Map(BACKENDS.map((m) => [m.name, m.priority]));
    const ps = AUTO_ORDER.map((n) => priority.get(n)!);
    expect(ps).toEqual([...ps].sort((a, b) => b - a));
    expect(
      BACKENDS.filter((m) => m.priority > 0)
        .map((m) => m.name)
        .sort(),
    ).toEqual([...AUTO_ORDER].sort());
    expect(priority.get("reference")).toBe(0);
  });
});

describe("loadBackend", () => {
  it("an unknown name is one readable Left listing every choice", async () => {
    const r = await loadBackend("tpu");
    expect(E.isLeft(r)).toBe(true);
    if (E.isRight(r)) return;
    expect(r.left.tag).toBe("ConfigError");
    expect(r.left.message).toBe(`unknown backend "tpu": choose one of auto, ${BACKEND_NAMES.join(", ")}`);
    expect(r.left.message).not.toContain("\n");
  });

  it("takes RANKFUSE_BACKEND when no name is given", async () => {
    const saved = process.env.RANKFUSE_BACKEND;
    try {
      process.env.RANKFUSE_BACKEND = "reference";
      const r = await loadBackend();
      expect(E.isRight(r) && r.right.name).toBe("reference");
      process.env.RANKFUSE_BACKEND = "tpu";
      const bad = await loadBackend();
      expect(E.isLeft(bad) && bad.left.message).toMatch(/^unknown backend "tpu"/);
    } finally {
      if (saved === undefined) delete process.env.RANKFUSE_BACKEND;
      else process.env.RANKFUSE_BACKEND = saved;
    }
  });

  it.skipIf(hasCuda)(
    "cuda without tfjs-node-gpu is a Left with the install instructions, and auto skips it unloaded",
    async () => {
      const r = await loadBackend("cuda");
      expect(r).toEqual(E.left({ tag: "BackendUnavailable", backend: "cuda", message: CUDA_INSTALL }));
      expect(CUDA_INSTALL).toMatch(/npm install @tensorflow\/tfjs-node-gpu@4\.22/);
      expect(await cudaModule.autoPrecheck!()).toBe(`${CUDA_PACKAGE} is not installed`);
    },
  );

  it(
    "every listed backend answers with a value, never a throw; an unavailable one says why, naming itself",
    { timeout: 180_000 },
    async () => {
      for (const name of BACKEND_NAMES) {
        const r = await loadBackend(name); // a rejection fails the test here
        if (E.isRight(r)) expect(r.right.name).toBe(name);
        else {
          expect(r.left).toMatchObject({ tag: "BackendUnavailable", backend: name });
          expect(r.left.message).toMatch(new RegExp(`backend ${name}\\b`));
          expect(r.left.message.trim()).not.toBe("");
        }
      }
    },
  );

  it("auto loads the first of AUTO_ORDER that can run here", async () => {
    const r = await loadBackend("auto");
    expect(E.isRight(r)).toBe(true);
    if (E.isRight(r)) expect(AUTO_ORDER).toContain(r.right.name);
  });
});
