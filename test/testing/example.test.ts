/**
 * The example of rankfuse/testing's doc comment (testing.ts), run: a user's property test in under 15
 * lines. Only its imports differ: they point at this checkout's entry points instead of the package
 * (test/testing/exampleDoc.test.ts checks that the rest is the doc's text), and `it` skips, with the
 * reason printed, where the native addon cannot build and RANKFUSE_REQUIRE_NATIVE is unset.
 */
import { it as vitestIt } from "vitest";
import { backendRequirement } from "../helpers/requirements.ts";
import fc from "fast-check";
import { dim, spec, matmul, gelu, loadBackend, type Dim, type Tensor } from "../../index.ts";
import { forAllInputs, fusedMatchesUnfused, unwrap } from "../../testing.ts";

const it = (await backendRequirement("native")).skip ? vitestIt.skip : vitestIt;

// the example:
const [n, d, r] = [dim("n", 16), dim("d", 32), dim("r", 4)];
type P = { A: Tensor<readonly [Dim<"d">, Dim<"r">]>; B: Tensor<readonly [Dim<"r">, Dim<"d">]> };
const layer = (p: P, x: Tensor<readonly [Dim<"n">, Dim<"d">]>) => matmul(gelu(matmul(x, p.A)), p.B);
const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;

it("my GELU low-rank layer fuses without changing its outputs or gradients", async () => {
  const backend = unwrap(await loadBackend("native"));
  await fc.assert(forAllInputs(fusedMatchesUnfused(layer, args, { backend })), { numRuns: 5 });
});
