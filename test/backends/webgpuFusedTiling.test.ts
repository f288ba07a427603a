import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  maxFusedRankOf,
  rankTileOf,
  reduceTile,
  rowChainTile,
  type DeviceLimits,
} from "../../backends/webgpu/fused/tiling.ts";
import { RowChainProgram } from "../../backends/webgpu/fused/rowChain.ts";
import { TokenReduceProgram } from "../../backends/webgpu/fused/reduce.ts";
import { flatGrid } from "../../backends/webgpu/fused/program.ts";
import { runs } from "../helpers/runs.ts";

/**
 * Tiles come from the device's limits: whatever the limits, a chosen tile fits the workgroup memory
 * and invocation count, holds the whole rank block, and maxFusedRank is exactly where tiles stop
 * fitting. No GPU needed: this is arithmetic on limits (the kernels' results are tested on webgpu).
 */
const limits: fc.Arbitrary<DeviceLimits> = fc.record({
  maxComputeWorkgroupStorageSize: fc.constantFrom(16384, 32768, 49152, 65536),
  maxComputeInvocationsPerWorkgroup: fc.constantFrom(128, 256, 1024),
  maxComputeWorkgroupSizeX: fc.constantFrom(128, 256, 1024),
  maxComputeWorkgroupsPerDimension: fc.constantFrom(65535, 1024),
});

/** Workgroup memory a program declares, read from its WGSL (what the device will check). */
const declaredBytes = (wgsl: string) =>
  [...wgsl.matchAll(/var<workgroup> \w+ : array<(f32|vec4<f32>), (\d+)>/g)].reduce(
    (s, m) => s + (m[1] === "f32" ? 4 : 16) * Number(m[2]),
    0,
  );

describe("fused kernel tiles from device limits", () => {
  it("a row-chain tile fits the device and holds the whole rank block; maxFusedRank is where tiles stop", () => {
    fc.assert(
      fc.property(limits, fc.integer({ min: 1, max: 5000 }), (l, r) => {
        const tile = rowChainTile(r, l);
        const max = maxFusedRankOf(l);
        expect(tile !== null).toBe(r <= max);
        if (!tile) return;
        expect(tile.rankTile).toBeGreaterThanOrEqual(r);
        expect(tile.threads).toBeLessThanOrEqual(
          Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX),
        );
        expect(tile.rows % tile.rm).toBe(0); // micro-tiles cover the rows exactly
        for (const direction of ["forward", "backward"] as const) {
          for (const vec4 of [false, true]) {
            const p = new RowChainProgram({
              direction,
              act: "silu",
              epilogue: "none",
              writeMid: true,
              writeH: false,
              second: true,
              tile,
              vec4,
            });
            const bytes = declaredBytes(p.getUserCode());
            expect(bytes).toBe(4 * tile.rows * tile.rankTile); // the rank block, nothing else
            expect(bytes).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize);
          }
        }
      }),
      { numRuns: runs(200) },
    );
  });

  it("maxFusedRank: rank tiles double until one row's block no longer fits", () => {
    fc.assert(
      fc.property(limits, (l) => {
        const max = maxFusedRankOf(l);
        expect(max).toBe(rankTileOf(max)); // a power of two
        expect(rowChainTile(max, l)).not.toBeNull();
        expect(rowChainTile(max + 1, l)).toBeNull();
      }),
      { numRuns: runs(50) },
    );
    // WebGPU's default 16 KiB and llvmpipe's 32 KiB (after raising) both take the 1B config's rank 512
    const base = {
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
      maxComputeWorkgroupsPerDimension: 65535,
    };
    expect(maxFusedRankOf({ ...base, maxComputeWorkgroupStorageSize: 16384 })).toBe(4096);
    expect(maxFusedRankOf({ ...base, maxComputeWorkgroupStorageSize: 32768 })).toBe(8192);
  });

  it("the token reduction's tile fits the device's invocations and covers its output", () => {
    fc.assert(
      fc.property(limits, (l) => {
        const tile = reduceTile(l)!;
        const p = new TokenReduceProgram(["x", "dZ", "dA"], tile);
        expect(p.workgroupSize[0]).toBeLessThanOrEqual(
          Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX),
        );
        const [gx, gy] = p.grid(1000, 77);
        expect(gx * 4 * tile.tx).toBeGreaterThanOrEqual(77);
        expect(gy * 4 * tile.ty).toBeGreaterThanOrEqual(1000);
      }),
      { numRuns: runs(50) },
    );
  });

  it("a long grid folds into x and y within the per-dimension limit and covers every workgroup", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom(65535, 4000), (groups, maxPerDim) => {
        const [x, y] = flatGrid(groups, maxPerDim);
        expect(x).toBeLessThanOrEqual(maxPerDim);
        expect(y).toBeLessThanOrEqual(maxPerDim);
        expect(x * y).toBeGreaterThanOrEqual(Math.max(groups, 1));
      }),
      { numRuns: runs(100) },
    );
    expect(() => flatGrid(1000 * 1000 + 1, 1000)).toThrow(/exceed a 1000 x 1000 grid/);
  });

  it("the shader key names what changes the code, so equal keys mean equal WGSL", () => {
    const tile = rowChainTile(6, {
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupSizeX: 1024,
      maxComputeWorkgroupsPerDimension: 65535,
    })!;
    const specs = (["forward", "backward"] as const).flatMap((direction) =>
      (["identity", "silu", "gelu", "relu"] as const).flatMap((act) =>
        (["none", "add", "mul"] as const).flatMap((epilogue) =>
          [true, false].flatMap((writeMid) =>
            [true, false].map((vec4) => ({
              direction,
              act,
              epilogue,
              writeMid,
              writeH: direction === "forward" && writeMid,
              second: true,
              tile,
              vec4,
            })),
          ),
        ),
      ),
    );
    const byKey = new Map<string, string>();
    for (const s of specs) {
      const p = new RowChainProgram(s);
      const code = p.getUserCode() + p.variableNames.join() + p.outputNames.join();
      expect(byKey.get(p.shaderKey) ?? code).toBe(code);
      byKey.set(p.shaderKey, code);
    }
    expect(new Set([...byKey.values()]).size).toBe(byKey.size);
  });
});
