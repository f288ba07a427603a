import { describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { makeSst, sstDenseInit } from "../../methods/sst/model.ts";
import { composeW, sstGroups } from "../../methods/sst/ops.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { allcloseViolation } from "../../testing/allclose.ts";

/** SST's parametrization: W = U·diag(Σ)·Vᵀ starts as the dense init, and the network computes exactly that W. */

const cfg: ModelConfig = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 1, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const sst = unwrap(makeSst(cfg));
const groups = sstGroups(sst.layout);

function logitsOf(model: LanguageModel, params: readonly Float32Array[], ids: Int32Array): Promise<Float64Array> {
  const run = unwrap(
    compile((p: unknown, x: Tensor) => model.logits(p, x), {
      args: [model.layout.specs, spec([dim("b", cfg.batch), dim("t", cfg.seq)], "int32")] as const,
      backend: referenceBackend(),
    }),
  );
  return run
    .run(
      unflatten(
        model.layout.def,
        params.map((a) => Float64Array.from(a)),
      ) as never,
      ids as never,
    )
    .then((r) => {
      if (r._tag === "Left") throw new Error(r.left.message);
      return r.right.out as unknown as Float64Array;
    });
}

describe("SST parametrization", () => {
  it("has U, Σ, V for each of the seven projections per block, with the full spectrum k = min(d_in, d_out)", () => {
    expect(groups.map((g) => g.name)).toEqual(["q", "k", "v", "o", "gate", "up", "down"].map((p) => `blocks.0.${p}`));
    for (const g of groups) expect(g.k).toBe(Math.min(g.dIn, g.dOut));
  });

  it("reproduces the dense init W at full spectrum: U·diag(Σ)·Vᵀ = W, U and V orthonormal, Σ sorted", () => {
    for (const seed of [1, 2]) {
      const p = sst.init(seed);
      for (const g of groups) {
        const w = sstDenseInit(sst.layout, seed, g.u);
        expect(allcloseViolation(composeW(g, p[g.u]!, p[g.s]!, p[g.v]!), w, 1e-4, 1e-6), g.name).toBeNull();
        const S = p[g.s]!;
        expect(S.every((x, i) => x >= 0 && (i === 0 || x <= S[i - 1]!))).toBe(true);
        for (const [M, rows] of [
          [p[g.u]!, g.dIn],
          [p[g.v]!, g.dOut],
        ] as const) {
          for (let a = 0; a < g.k; a++)
            for (let b = 0; b < g.k; b++) {
              let s = 0;
              for (let i = 0; i < rows; i++) s += M[i * g.k + a]! * M[i * g.k + b]!;
              expect(Math.abs(s - (a === b ? 1 : 0))).toBeLessThan(1e-5);
            }
        }
      }
    }
  });

  it("computes the same logits as the full model whose projections are W = U·diag(Σ)·Vᵀ", async () => {
    const full = unwrap(makeModel("full", cfg));
    const p = sst.init(4).map((a, i) => {
      // move Σ off the SVD so the check covers arbitrary factors, not only the init
      return /\.S$/.test(sst.layout.names[i]!) ? a.map((x, j) => x * (1 + 0.5 * Math.sin(j))) : a;
    });
    const dense = full.layout.names.map((name) => {
      const g = groups.find((x) => x.name === name);
      if (g) return Float32Array.from(composeW(g, p[g.u]!, p[g.s]!, p[g.v]!));
      return p[sst.layout.names.indexOf(name)]!;
    });
    const rng = Rng.fromSeed(5);
    const ids = Int32Array.from({ length: cfg.batch * cfg.seq }, () => rng.nextInt(cfg.vocab));
    const [a, b] = [await logitsOf(sst, p, ids), await logitsOf(full, dense, ids)];
    expect(allcloseViolation(a, b, 1e-5, 1e-6)).toBeNull();
  });

  it("truncates to a smaller spectrum on request (rank-k factors of the dense init)", () => {
    const small = unwrap(makeSst(cfg, { spectrum: 3 }));
    expect(sstGroups(small.layout).every((g) => g.k === 3)).toBe(true);
    expect(small.counts.total).toBeLessThan(sst.counts.total);
    expect(makeSst(cfg, { spectrum: 0 })._tag).toBe("Left");
  });
});
