/** A fusion benchmark's report (./benchFusion.ts) as text: one header line, a table with a row per pass, and its notes. */
import { markdownTable } from "../report/markdownTable.ts";
import { formatNumber } from "../util/format.ts";
import type { FusionBenchReport, VariantReport } from "./benchFusion.ts";
import { formatRatio, formatStat } from "./stats.ts";

const plan = (v: VariantReport | null, f: (v: VariantReport) => string) => (v ? f(v) : "—");

/**
 * The report as printed by `rankfuse bench fusion`: ms are median [min-max] over the timed rounds,
 * the speedup is the median [min-max] of the per-round ratios unfused/fused, kernels and bytes moved
 * are the plans' launches and predicted traffic, unfused → fused.
 */
export function formatFusionReport(r: FusionBenchReport): string {
  const inputs = Object.entries(r.inputs)
    .map(([p, s]) => `${p} [${s.join(", ")}]`)
    .join(", ");
  const head =
    `${r.layer} on ${r.backend} (${r.backendDescription}): ${r.rounds} timed rounds after ${r.warmup} warm-up, ` +
    `unfused and fused interleaved in alternating order${r.anyRank ? ", fused at every rank" : ""}\ninputs: ${inputs}`;
  const rows = r.passes.map((p) => [
    p.pass,
    formatStat(p.unfused.stat, 2),
    plan(p.fused, (f) => formatStat(f.stat, 2)),
    p.fused
      ? `${formatRatio(p.ratio.median)} [${formatRatio(p.ratio.min)}-${formatRatio(p.ratio.max)}]`
      : "nothing fused",
    `${p.unfused.kernels} → ${plan(p.fused, (f) => `${f.kernels} (${f.fusedKernels} fused)`)}`,
    `${formatNumber(p.unfused.bytesMoved)}B → ${plan(p.fused, (f) => `${formatNumber(f.bytesMoved)}B`)}`,
    formatNumber(p.unfused.flops),
  ]);
  const table = markdownTable(
    ["pass", "unfused ms", "fused ms", "speedup (per round)", "kernels", "bytes moved", "FLOP"],
    rows,
  );
  return [head, "", table, ...r.notes.map((n) => `- ${n}`)].join("\n");
}
