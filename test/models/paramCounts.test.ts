import { describe, expect, it } from "vitest";
import { resolveConfig, type ModelConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { makeModel } from "../../methods/index.ts";
import { unwrap } from "../../testing/unwrap.ts";

/**
 * Parameter counts and FLOPs of the paper configs, against the closed forms of PAPERS.md (derived here
 * from the architecture, not from the code) and the published table. Building a model only declares
 * params, so even 7B is cheap; nothing here calls `init`.
 */

const PAPER = ["60m", "130m", "350m", "1b", "7b"] as const;
type PaperName = (typeof PAPER)[number];

const cfgOf = (name: string): ModelConfig => unwrap(resolveConfig(name));
const modelOf = (method: "full" | "cola", cfg: ModelConfig): LanguageModel => unwrap(makeModel(method, cfg));

/** PAPERS.md: full = L·(4d² + 3·d·d_ff) + 2·V·d (norm gains left out). */
const fullFormula = ({ layers: L, d, dFF, vocab: V }: ModelConfig) => L * (4 * d * d + 3 * d * dFF) + 2 * V * d;
/** PAPERS.md: CoLA = L·r·(11d + 3·d_ff) + 2·V·d: q,k,v,o each r·(d+d), gate/up r·(d+d_ff), down r·(d_ff+d). */
const colaFormula = ({ layers: L, d, dFF, vocab: V, rank: r }: ModelConfig) => L * r * (11 * d + 3 * dFF) + 2 * V * d;
/** RMSNorm gains: two per block and a final one, each of width d. */
const normGains = ({ layers: L, d }: ModelConfig) => (2 * L + 1) * d;

/** The published table (M = 1e6), with the precision each figure is printed at. */
const TABLE: Record<PaperName, { full: { value: number; unit: number }; cola?: { value: number; unit: number } }> = {
  "60m": { full: { value: 58.1e6, unit: 0.1e6 }, cola: { value: 42.8e6, unit: 0.1e6 } },
  "130m": { full: { value: 134e6, unit: 1e6 } },
  "350m": { full: { value: 368e6, unit: 1e6 } },
  "1b": { full: { value: 1339e6, unit: 1e6 }, cola: { value: 609e6, unit: 1e6 } },
  "7b": { full: { value: 6.7e9, unit: 0.1e9 } },
};

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe("parameter counts of the paper configs (vocab 32000)", () => {
  it.each(PAPER)("%s: has the 32000-token vocabulary and a CoLA rank below d", (name) => {
    const cfg = cfgOf(name);
    expect(cfg.vocab).toBe(32000);
    expect(cfg.rank).toBeLessThan(cfg.d);
  });

  const FORMULAS = [
    { method: "full", label: "full rank matches L·(4d² + 3·d·d_ff) + 2·V·d", formula: fullFormula },
    { method: "cola", label: "CoLA matches L·r·(11d + 3·d_ff) + 2·V·d", formula: colaFormula },
  ] as const;
  it.each(FORMULAS.flatMap((f) => PAPER.map((name) => ({ name, ...f }))))(
    "$name: $label",
    ({ name, method, formula }) => {
      const cfg = cfgOf(name);
      const m = modelOf(method, cfg);
      expect(relErr(m.counts.total, formula(cfg))).toBeLessThan(0.005);
      // the only parameters outside the formula are the norm gains
      expect(m.counts.total).toBe(formula(cfg) + normGains(cfg));
      expect(m.counts.total).toBe(m.counts.embedding + m.counts.nonEmbedding);
    },
  );

  it.each(PAPER)("%s: CoLA is smaller than full rank (low rank really is smaller, for every paper size)", (name) => {
    const cfg = cfgOf(name);
    expect(modelOf("cola", cfg).counts.total).toBeLessThan(modelOf("full", cfg).counts.total);
  });

  it.each(PAPER)("%s: the embedding count is the input table plus the LM head, 2·V·d, for both methods", (name) => {
    const cfg = cfgOf(name);
    for (const method of ["full", "cola"] as const) {
      expect(modelOf(method, cfg).counts.embedding).toBe(2 * cfg.vocab * cfg.d);
    }
  });

  it.each(PAPER)("%s: agrees with the published table", (name) => {
    const cfg = cfgOf(name);
    const row = TABLE[name];
    const check = (got: number, want: { value: number; unit: number }) => {
      // The table prints rounded figures: a count must round to the printed value at the printed
      // precision. That is at least as strict as 0.5% except for "6.7B", whose rounding alone allows 0.75%
      // (LLaMA-7B has 6.738B parameters, 0.57% above 6.7B).
      expect(Math.abs(got - want.value)).toBeLessThanOrEqual(want.unit / 2);
      expect(relErr(got, want.value)).toBeLessThan(Math.max(0.005, want.unit / 2 / want.value));
    };
    check(modelOf("full", cfg).counts.total, row.full);
    if (row.cola) check(modelOf("cola", cfg).counts.total, row.cola);
  });

  it("the 7B figure is within 0.5% of the table as printed at three digits (6.74B)", () => {
    expect(relErr(modelOf("full", cfgOf("7b")).counts.total, 6.74e9)).toBeLessThan(0.005);
  });
});

describe("forward FLOPs per token", () => {
  /** Matmul FLOPs are 2 per weight a token meets; attention (QKᵀ and AV) is 2·2·seq·d per layer. */
  const headFlops = (cfg: ModelConfig) => 2 * cfg.d * cfg.vocab;
  const attnFlops = (cfg: ModelConfig) => 4 * cfg.layers * cfg.seq * cfg.d;

  it.each(PAPER)("%s: full rank is 2·(block weights + head) + attention", (name) => {
    const cfg = cfgOf(name);
    const blockWeights = cfg.layers * (4 * cfg.d * cfg.d + 3 * cfg.d * cfg.dFF);
    expect(modelOf("full", cfg).forwardFlopsPerToken).toBe(2 * blockWeights + headFlops(cfg) + attnFlops(cfg));
  });

  it("60m: CoLA's linear-layer FLOPs at r = d/4 are about 0.40× of full rank (between 0.3× and 0.6×)", () => {
    const cfg = cfgOf("60m");
    expect(cfg.rank).toBe(cfg.d / 4);
    const linear = (m: LanguageModel) => m.forwardFlopsPerToken - headFlops(cfg) - attnFlops(cfg);
    const ratio = linear(modelOf("cola", cfg)) / linear(modelOf("full", cfg));
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.6);
    expect(ratio).toBeCloseTo(0.4, 1);
  });

  it.each(PAPER)("%s: CoLA's total forward FLOPs sit between the linear-layer ratio and 1× of full rank", (name) => {
    // The LM head and attention are the same for both methods, so they pull the total ratio towards 1
    // (at 60m the 512×32000 head alone makes the total ratio about 0.65).
    const cfg = cfgOf(name);
    const full = modelOf("full", cfg).forwardFlopsPerToken,
      cola = modelOf("cola", cfg).forwardFlopsPerToken;
    const shared = headFlops(cfg) + attnFlops(cfg);
    const linearRatio = (cola - shared) / (full - shared);
    expect(linearRatio).toBeGreaterThan(0.3);
    expect(linearRatio).toBeLessThan(0.6);
    expect(cola / full).toBeGreaterThan(linearRatio);
    expect(cola / full).toBeLessThan(1);
  });
});
