import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../../backends/index.ts";
import type { Backend } from "../../ir/backend.ts";
import { ELEMENTWISE, MATMUL_ADD } from "../../ir/fusedKinds.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { withCaps } from "./targets.ts";
import { elementwiseCases, elementwiseProgram } from "./elementwiseCases.ts";
import { matmulEpilogueCases, matmulEpilogueProgram } from "./matmulEpilogueCases.ts";

/**
 * The wasm backend has no fused kernels: claiming a fused kind, it runs each fused node by its parts.
 * Over random graphs, the fused plan must then compute exactly what the unfused plan computes (the same
 * kernels in the same order), outputs and gradients: the planner's rewrites change no arithmetic there.
 */
const wasm = unwrap((await loadBackend("wasm")) as E.Either<never, Backend<any>>);
const claiming = (kinds: readonly string[]) =>
  withCaps(
    { ...wasm, prepareFused: undefined },
    { fusedChains: true, fusedKinds: new Set(kinds), maxFusedRank: Infinity },
  );
const EXACT = { rtol: 0, atol: 0, equalNan: true };

describe("fused ≡ unfused on wasm (fused nodes by parts), over random graphs", () => {
  it("elementwise groups: outputs and gradients exactly", async () => {
    const be = claiming([ELEMENTWISE]);
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(elementwiseCases, async (c) => {
        const { fn, args, inputs } = elementwiseProgram(c);
        const got = await fusedMatchesUnfused(fn, args, { backend: be, requireFused: false, tolerance: EXACT })(inputs);
        fused += got.actual.plans.forward!.fusedCount + got.actual.plans.vjp!.fusedCount;
      }),
      { numRuns: runs(20) },
    );
    expect(fused).toBeGreaterThan(0);
  }, 120_000);

  it("matmul accumulate epilogues: outputs and gradients exactly", async () => {
    const be = claiming([MATMUL_ADD]);
    let fused = 0;
    await fc.assert(
      fc.asyncProperty(matmulEpilogueCases, async (c) => {
        const { fn, args, inputs } = matmulEpilogueProgram(c);
        const got = await fusedMatchesUnfused(fn as any, args, { backend: be, tolerance: EXACT })(inputs as any);
        fused += got.actual.plans.forward!.fusedCount;
      }),
      { numRuns: runs(20) },
    );
    expect(fused).toBeGreaterThan(0);
  }, 120_000);
});
