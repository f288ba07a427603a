import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";

/**
 * Model configurations: the paper sizes (PAPERS.md, vocabulary 32000, T5 tokenizer in the papers) and
 * rankfuse's own CPU presets (byte vocabulary). `rank` is CoLA's r; `seq` and `batch` are the
 * training defaults that go with the preset.
 */
export interface ModelConfig {
  readonly name: string;
  readonly vocab: number;
  readonly d: number;
  readonly heads: number;
  readonly layers: number;
  readonly dFF: number;
  readonly rank: number;
  readonly seq: number;
  readonly batch: number;
  readonly normEps: number;
  readonly ropeBase: number;
  /**
   * CoLA's MLP: true computes down(gate(x) * up(x)) with no extra SiLU (the nonlinearity is inside each
   * CoLA layer, the authors' default); false keeps down(silu(gate(x)) * up(x)) as their 60M and 130M
   * configs do. Full-rank LLaMA always uses SwiGLU.
   */
  readonly onlyLrAct: boolean;
}

const paper = (
  name: string,
  d: number,
  dFF: number,
  heads: number,
  layers: number,
  rank: number,
  onlyLrAct: boolean,
): ModelConfig => ({
  name,
  vocab: 32000,
  d,
  heads,
  layers,
  dFF,
  rank,
  seq: 256,
  batch: 512,
  normEps: 1e-6,
  ropeBase: 10000,
  onlyLrAct,
});

/** Every named config: the paper sizes 60m..7b and the CPU presets tiny and small. */
export const CONFIGS: Readonly<Record<string, ModelConfig>> = {
  "60m": paper("60m", 512, 1376, 8, 8, 128, false),
  "130m": paper("130m", 768, 2048, 12, 12, 256, false),
  "350m": paper("350m", 1024, 2736, 16, 24, 256, true),
  "1b": paper("1b", 2048, 5461, 32, 24, 512, true),
  "7b": paper("7b", 4096, 11008, 32, 32, 1024, true),
  tiny: {
    name: "tiny",
    vocab: 256,
    d: 256,
    heads: 4,
    layers: 4,
    dFF: 688,
    rank: 64,
    seq: 256,
    batch: 8,
    normEps: 1e-6,
    ropeBase: 10000,
    onlyLrAct: true,
  },
  small: {
    name: "small",
    vocab: 256,
    d: 512,
    heads: 8,
    layers: 8,
    dFF: 1376,
    rank: 128,
    seq: 256,
    batch: 4,
    normEps: 1e-6,
    ropeBase: 10000,
    onlyLrAct: true,
  },
};

/** Fields of a config to change (`--width`, `--rank`, ...); the name stays. */
export type ConfigOverrides = Partial<Omit<ModelConfig, "name">>;

/** A named config with overrides, validated: every size positive, heads dividing d, an even head width, rank <= d. */
export function resolveConfig(name: string, overrides: ConfigOverrides = {}): E.Either<RankfuseError, ModelConfig> {
  const base = CONFIGS[name.toLowerCase()];
  if (!base)
    return E.left({
      tag: "ConfigError",
      message: `unknown config "${name}": choose one of ${Object.keys(CONFIGS).join(", ")}`,
    });
  const c = {
    ...base,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  } as ModelConfig;
  const bad = (["vocab", "d", "heads", "layers", "dFF", "rank", "seq", "batch"] as const).find(
    (k) => !(Number.isInteger(c[k]) && c[k] > 0),
  );
  if (bad)
    return E.left({
      tag: "ConfigError",
      message: `config ${c.name}: ${bad} must be a positive integer, got ${c[bad]}`,
    });
  if (c.d % c.heads !== 0)
    return E.left({ tag: "ConfigError", message: `config ${c.name}: heads (${c.heads}) must divide d (${c.d})` });
  if ((c.d / c.heads) % 2 !== 0)
    return E.left({
      tag: "ConfigError",
      message: `config ${c.name}: the head width d/heads = ${c.d / c.heads} must be even for RoPE`,
    });
  if (c.rank > c.d)
    return E.left({
      tag: "ConfigError",
      message: `config ${c.name}: rank ${c.rank} is larger than the width d = ${c.d}`,
    });
  return E.right(c);
}
