import * as E from "fp-ts/lib/Either.js";
import { resolveConfig, type ModelConfig } from "../models/config.ts";

/**
 * The model sizes the playground offers. `tiny` is the CLI's CPU preset; `micro` is a smaller one of
 * our own (two layers of width 64), so a demo or a test sees the loss fall within seconds.
 */
export const PRESETS = ["micro", "tiny"] as const;

const MICRO = { d: 64, heads: 2, layers: 2, dFF: 172, rank: 16, seq: 64, batch: 8 };

/** The validated config for a preset with an optional rank; a bad rank is a readable Left. */
export function playgroundConfig(preset: string, rank?: number): E.Either<string, ModelConfig> {
  if (!(PRESETS as readonly string[]).includes(preset))
    return E.left(`unknown preset "${preset}": choose one of ${PRESETS.join(", ")}`);
  if (rank !== undefined && !(Number.isInteger(rank) && rank > 0))
    return E.left(`rank must be a positive integer, got ${rank}`);
  const overrides = preset === "micro" ? { ...MICRO, rank: rank ?? MICRO.rank } : { rank };
  const cfg = resolveConfig("tiny", overrides);
  return E.isLeft(cfg)
    ? E.left(cfg.left.message.replace(/^config tiny/, `preset ${preset}`))
    : E.right({ ...cfg.right, name: preset });
}
