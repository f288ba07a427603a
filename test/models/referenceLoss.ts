import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { unflatten } from "../../ir/tree.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import type { ModelConfig } from "../../models/config.ts";
import type { LanguageModel } from "../../models/model.ts";
import type { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

/** A model's loss in float64 on the reference backend, for equivalences and central differences that must not round. */

const reference = referenceBackend();

/** Random token ids for one batch of `cfg`. */
export const tokens = (cfg: ModelConfig, rng: Rng) =>
  Int32Array.from({ length: cfg.batch * cfg.seq }, () => rng.nextInt(cfg.vocab));
/** The specs of a batch's inputs and targets, int32 [b, t]. */
export const batchSpecs = (cfg: ModelConfig) =>
  [
    spec([dim("b", cfg.batch), dim("t", cfg.seq)], "int32"),
    spec([dim("b", cfg.batch), dim("t", cfg.seq)], "int32"),
  ] as const;

/** The loss of `model` at flat params on one batch. */
export async function lossOf(
  model: LanguageModel,
  params: Float64Array[],
  x: Int32Array,
  y: Int32Array,
): Promise<number> {
  const f = unwrap(
    compile((p: unknown, a: Tensor, b: Tensor) => model.loss(p, a, b), {
      args: [model.layout.specs, ...batchSpecs(model.config)] as const,
      backend: reference,
    }),
  );
  return (
    unwrap(await f.run(unflatten(model.layout.def, params) as never, x as never, y as never))
      .out as unknown as Float64Array
  )[0]!;
}
