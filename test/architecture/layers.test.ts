import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { crossImports, LAYERS, layerOf, layerViolations } from "./importGraph.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("the source tree's layers (docs/architecture.md)", () => {
  it("every import points down the layers: util, ir, dsl, passes, run, backends, models, train, methods, export, report, testing, entry points, faces", () => {
    expect(layerViolations(ROOT)).toEqual([]);
  });

  it("every top-level source folder belongs to a layer", () => {
    const folders = new Set(crossImports(ROOT).flatMap((c) => [c.from, c.to]));
    expect([...folders].filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it("the check finds an upward import, a dynamic one and one into an unlisted folder", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-layers-"));
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write("dsl/a.ts", 'import { plan } from "../run/plan.ts";\nimport { x } from "../ir/x.ts";\n');
    write("models/b.ts", 'const m = await import("../train/loop.ts");\n');
    write("ir/c.ts", 'export { y } from "../misc/y.ts";\n');
    write("test/d.ts", 'import { z } from "../cli/main.ts";\n'); // tests are not checked
    expect(layerViolations(dir).sort()).toEqual([
      "dsl/a.ts imports run/plan.ts (dsl may not import run)",
      "ir/c.ts imports misc/y.ts (ir may not import misc)",
      "models/b.ts imports train/loop.ts (models may not import train)",
    ]);
    fs.rmSync(dir, { recursive: true });
  });

  it("lists the layers in the order of a training step", () => {
    const order = ["util", "ir", "dsl", "passes", "run", "backends", "models", "train", "methods"];
    expect(order.map(layerOf)).toEqual([...order.map(layerOf)].sort((a, b) => a - b));
    expect(LAYERS.at(-1)).toEqual(["cli", "web", "bench", "examples"]);
  });
});
