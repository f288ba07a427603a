import { describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { benchFusion, roundOrder } from "../../bench/benchFusion.ts";
import { formatFusionReport } from "../../bench/fusionTable.ts";
import { layerModuleFrom, loadLayerModule } from "../../bench/layerModule.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { claimingChains, nativeOrSkip } from "../passes/targets.ts";

/**
 * benchFusion on the shipped layer file (a GELU CoLA layer), at tiny sizes and 2 rounds: the report's
 * structure only (never speed): fewer kernels fused, a ratio per round, the rounds interleaved in
 * alternating order, the JSON it saves. Native where it builds; elsewhere the reference with its fused
 * nodes run by parts, which plans the same kernels.
 */
const backend = (await nativeOrSkip()) ?? claimingChains(referenceBackend());
const LAYER_FILE = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  "..",
  "..",
  "bench",
  "layers",
  "geluCola.ts",
);

describe("benchFusion", () => {
  it("times the layer file's layer fused against unfused, interleaved round by round, and saves the report", async () => {
    const mod = unwrap(await loadLayerModule(LAYER_FILE).then(E.mapLeft((m) => ({ tag: "Error", message: m }))));
    expect(mod.name).toBe("GELU CoLA layer");
    expect(mod.dims).toEqual({ n: 2048, d: 512, r: 128 });
    const save = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-bench-")), "out", "fusion.json");
    const dims = { n: 8, d: 16, r: 4 };
    const report = unwrap(
      await benchFusion(mod.layer as never, mod.shapes, { backend, dims, rounds: 2, warmup: 1, name: mod.name, save }),
    );
    expect(report.passes.map((p) => p.pass)).toEqual(["forward", "forward+backward"]);
    expect(report.inputs).toEqual({ "args[0].A": [16, 4], "args[0].B": [4, 16], "args[1]": [8, 16] });
    for (const p of report.passes) {
      expect(p.fused, p.pass).not.toBeNull();
      expect(p.fused!.kernels).toBeLessThan(p.unfused.kernels);
      expect(p.fused!.fusedKernels).toBeGreaterThan(0);
      expect(p.unfused.fusedKernels).toBe(0);
      expect(p.fused!.bytesMoved).toBeLessThan(p.unfused.bytesMoved);
      expect(p.unfused.ms).toHaveLength(2);
      expect(p.fused!.ms).toHaveLength(2);
      expect(p.ratios).toEqual(p.unfused.ms.map((u, i) => u / p.fused!.ms[i]!));
      expect(p.ratios.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
      expect(p.ratio.n).toBe(2);
      // interleaved: each round runs both, and the order alternates
      expect(p.order).toEqual([
        ["fused", "unfused"],
        ["unfused", "fused"],
      ]);
    }
    expect(report.passes[0]!.fused!.fusedKernels).toBe(1); // the forward chain
    expect(report.passes[1]!.fused!.fusedKernels).toBe(2); // and its backward
    expect(JSON.parse(fs.readFileSync(save, "utf8"))).toEqual(JSON.parse(JSON.stringify(report)));
    const text = formatFusionReport(report);
    expect(text).toMatch(/^GELU CoLA layer on \S+ .*2 timed rounds after 1 warm-up/);
    expect(text).toMatch(/\| forward +\| [\d.]+ \[[\d.]+-[\d.]+\] +\| [\d.]+ \[[\d.]+-[\d.]+\] +\| [\d.]+x \[/);
    expect(text).toMatch(/\| forward\+backward .*\| 15 → 7 \(2 fused\)/);
  });

  it("rotates the order one step each round", () => {
    expect([0, 1, 2].map((i) => roundOrder(["unfused", "fused"], i))).toEqual([
      ["unfused", "fused"],
      ["fused", "unfused"],
      ["unfused", "fused"],
    ]);
  });

  it("times only the unfused plan, and says so, where nothing fuses", async () => {
    const mod = unwrap(await loadLayerModule(LAYER_FILE).then(E.mapLeft((m) => ({ tag: "Error", message: m }))));
    const dims = { n: 4, d: 4, r: 2 };
    const report = unwrap(
      await benchFusion(mod.layer as never, mod.shapes, {
        backend: referenceBackend(),
        dims,
        rounds: 2,
        warmup: 0,
        passes: ["forward"],
      }),
    );
    expect(report.passes[0]!.fused).toBeNull();
    expect(report.passes[0]!.ratios).toEqual([]);
    expect(report.passes[0]!.order).toEqual([["unfused"], ["unfused"]]);
    expect(report.notes).toEqual([
      "forward: nothing fused on reference (caps.fusedChains false), so only the unfused plan is timed",
    ]);
  });

  it("refuses bad input with a Left: an unsized dim, a layer that does not compile, bad rounds", async () => {
    const mod = unwrap(await loadLayerModule(LAYER_FILE).then(E.mapLeft((m) => ({ tag: "Error", message: m }))));
    const be = referenceBackend();
    const unsized = await benchFusion(mod.layer as never, mod.shapes, { backend: be, dims: { n: 4, d: 4 } });
    expect(E.isLeft(unsized) && unsized.left).toMatchObject({ tag: "UnboundDim", dim: "r" });
    const swapped = (p: { A: unknown; B: unknown }, x: unknown) =>
      (mod.layer as (q: unknown, y: unknown) => unknown)({ A: p.B, B: p.A }, x); // x·B: inner dims d and r differ
    const wrong = await benchFusion(swapped as never, mod.shapes, { backend: be, dims: { n: 4, d: 4, r: 2 } });
    expect(E.isLeft(wrong) && wrong.left.tag).toBe("ShapeError");
    const rounds = await benchFusion(mod.layer as never, mod.shapes, {
      backend: be,
      dims: { n: 4, d: 4, r: 2 },
      rounds: 0,
    });
    expect(E.isLeft(rounds) && rounds.left.message).toMatch(/rounds must be >= 1/);
  });
});

describe("layer files", () => {
  const shapes = [{}] as never;
  it("take named exports or a default export, and refuse what is not a layer file in one line", () => {
    expect(E.isLeft(layerModuleFrom({}, "x.ts"))).toBe(true);
    expect(layerModuleFrom({}, "x.ts")).toEqual(E.left(expect.stringMatching(/^x\.ts exports no layer: /)));
    expect(layerModuleFrom({ layer: () => 0 }, "x.ts")).toEqual(
      E.left(expect.stringMatching(/^x\.ts exports no shapes/)),
    );
    expect(layerModuleFrom({ layer: () => 0, shapes: [{ A: 3 }] }, "x.ts")).toEqual(
      E.left("x.ts: shapes must hold only spec(...) values: pytree: unexpected leaf at [0].A: number"),
    );
    expect(layerModuleFrom({ layer: () => 0, shapes }, "x.ts")).toEqual(E.left("x.ts: shapes has no spec(...) in it"));
  });

  it("name a missing file", async () => {
    expect(await loadLayerModule("/definitely/not/here.ts")).toEqual(
      E.left("cannot read layer file /definitely/not/here.ts: no such file"),
    );
  });
});
