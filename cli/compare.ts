import * as E from "fp-ts/lib/Either.js";
import path from "node:path";
import { renderError } from "../ir/errors.ts";
import { loadBackend } from "../backends/index.ts";
import { type LanguageModel } from "../models/model.ts";
import { METHODS } from "../methods/index.ts";
import { resolveModel } from "../methods/resolve.ts";
import type { MethodSource } from "../methods/fromFile.ts";
import { loadData } from "../train/data.ts";
import { dataProgress } from "./dataProgress.ts";
import { renderRunError } from "../train/errors.ts";
import { markdownTable } from "../report/markdownTable.ts";
import {
  COST_HEADERS,
  costRows,
  QUALITY_HEADERS,
  qualityRows,
  writeCompareReport,
  type CompareRow,
} from "../report/compareReport.ts";
import { runMetadata } from "../report/runMetadata.ts";
import { foldSeeds } from "../report/sweepGrid.ts";
import { gridTable, sweepSection, withLrColumn } from "../report/sweepReport.ts";
import { UPDATE_DEFAULTS } from "../train/update.ts";
import { formatNumber } from "../util/format.ts";
import { parseFlags, UsageError } from "./args.ts";
import { LR_HELP, MODEL_HELP, modelConfigFrom, RUN_FLAGS, RUN_HELP } from "./trainFlags.ts";
import { checkResumable } from "./runDir.ts";
import { isPlain, plannedDirs, runSweep, SWEEP_FLAGS, sweepPlanFrom } from "./sweep.ts";
import { checkDataFits, checkMemory, checkOutDir, tokenizerFor } from "./preflight.ts";
import { trainableParams } from "../models/model.ts";

const COMPARE_LR_HELP = `  --lr X[,Y,...]       peak learning rate, or a comma-separated grid of them (--lr 1e-3,3e-3,1e-2):
                       every method trains at every rate and is reported at its best, the rate with the
                       lowest final validation loss (mean over seeds) (default ${UPDATE_DEFAULTS.lr})`;

const HELP = `rankfuse compare: train several methods at the same width, on the same data, for the same tokens,
and print a quality table (params, validation loss, perplexity, bits/byte) and a cost table (FLOPs/token,
tokens/s, peak memory, optimizer state);
writes a report folder (report.md, report.html, SVG plots, results.json) and each run's checkpoint.

  --methods LIST       comma-separated, from ${METHODS.join(", ")} (default full,cola);
                       a method file of your own counts too: full,./my-method.ts
  --out DIR            report folder (default runs/compare-<date>-<time>); with one rate and one seed each
                       method trains in DIR/<method>, otherwise each run in DIR/<method>/lr-<rate>/seed-<seed>
                       (short grid runs in DIR/<method>/sweep/lr-<rate>/seed-<seed>)
learning-rate sweep and seeds (--lr below takes a grid; README "Fair comparisons"):
  --seeds N            train every run, in the grid and after it, with N seeds: --seed, --seed+1, ...
                       (default 1); a rate's loss is the mean over its seeds; tables show mean ± sample
                       standard deviation (n-1), loss plots the mean and a ±std band
  --sweep-tokens N     with several rates: train the grid's runs for N tokens each (fewer than the run's;
                       validated only at their end unless --eval-every is given), then train each
                       method's best rate again, from scratch, for the full --steps/--tokens; without it
                       the grid's runs have the full budget and the best one is the method's final run
${MODEL_HELP}
${RUN_HELP.replace(LR_HELP, COMPARE_LR_HELP)}`;

/** compare's flags: a training run's, and the methods, seeds and short grid of a sweep. */
export const COMPARE_FLAGS = { ...RUN_FLAGS, ...SWEEP_FLAGS } as const;

/**
 * `rankfuse compare`: trains every method at every rate and seed of the plan (cli/sweep.ts), writes the
 * report folder and prints the tables; returns the exit code (usage errors throw a UsageError).
 */
export async function compareCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, COMPARE_FLAGS, ["lr"]);
  if (values.help) return (console.log(HELP), 0);
  const cfg = modelConfigFrom(values);
  const plan = sweepPlanFrom(values, cfg);
  const s = plan.final;
  checkOutDir(values.out);
  const methods = (values.methods ?? "full,cola")
    .split(",")
    .map((m) => m.trim())
    .filter(Boolean);
  const models: { model: LanguageModel; source?: MethodSource }[] = [];
  for (const m of methods) {
    const model = await resolveModel(m, cfg);
    if (E.isLeft(model)) throw new UsageError(renderError(model.left));
    checkMemory(model.right.model, s.batch, s.seq, { skip: values["no-memory-check"] });
    await tokenizerFor(values.tokenizer, model.right.model);
    models.push(model.right);
  }
  const names = models.map((m) => m.model.method);
  if (new Set(names).size !== names.length)
    throw new UsageError(`--methods lists a method twice: ${methods.join(",")} (methods ${names.join(", ")})`);
  const backend = await loadBackend(values.backend || undefined);
  if (E.isLeft(backend)) throw new UsageError(renderError(backend.left));
  const data = await loadData({
    data: values.data,
    tokenizer: values.tokenizer,
    textField: values["text-field"],
    onProgress: dataProgress(),
  });
  if (E.isLeft(data)) throw new UsageError(renderRunError(data.left));
  checkDataFits(data.right, s);
  const out =
    values.out ??
    path.join("runs", `compare-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-")}`);

  for (const { model, source } of models)
    for (const dir of values.resume && source ? plannedDirs(out, model.method, plan) : []) {
      const ok = checkResumable(dir, source!);
      if (E.isLeft(ok)) throw new UsageError(ok.left);
    }

  const tokens = s.steps * s.batch * s.seq;
  const sweep = isPlain(plan)
    ? ""
    : `, rates ${plan.lrs.join(", ")}, seeds ${plan.seeds.join(", ")}${plan.short ? `, grid runs of ${plan.short.steps} steps` : ""}`;
  console.error(
    `compare ${names.join(", ")} on ${cfg.name} (d ${cfg.d}, ${cfg.layers} layers, rank ${cfg.rank}), ${backend.right.name} backend, ${s.steps} steps x ${s.batch}x${s.seq} = ${formatNumber(tokens)} tokens each, ${data.right.corpus}${sweep}`,
  );
  const continueHint = `rankfuse compare ${argv.filter((a) => a !== "--resume").join(" ")}${values.out ? "" : ` --out ${out}`} --resume`;
  const ran = await runSweep(models, backend.right, data.right, plan, { out, resume: !!values.resume, continueHint });
  if (E.isLeft(ran)) return (console.error(ran.left.line), ran.left.code);
  const rows: CompareRow[] = models.map(({ model }) => {
    const results = ran.right.finals.filter((r) => r.method === model.method).map((r) => r.result!);
    const folded = results.length > 1 ? foldSeeds(results) : { result: results[0]!, spread: undefined };
    return {
      method: model.method,
      params: model.counts.total,
      nonEmbedding: model.counts.nonEmbedding,
      trainable: trainableParams(model),
      trainFlopsPerToken: 3 * model.forwardFlopsPerToken,
      tokensPerStep: s.batch * s.seq,
      ...folded,
    };
  });
  const record = {
    lrs: plan.lrs,
    seeds: plan.seeds,
    ...ran.right,
    gridTokens: (plan.short ?? s).steps * s.batch * s.seq,
    tokens,
  };
  const written = writeCompareReport(
    out,
    rows,
    {
      config: cfg.name,
      width: cfg.d,
      layers: cfg.layers,
      rank: cfg.rank,
      backend: `${backend.right.name} (${backend.right.describe()})`,
      data: data.right.corpus,
      tokenizer: data.right.tokenizer.name,
      tokens,
      steps: s.steps,
      batch: s.batch,
      seq: s.seq,
      ...(isPlain(plan)
        ? { lr: s.lr, seed: s.seed }
        : { lr: plan.lrs, seeds: plan.seeds, ...(plan.short ? { sweepTokens: record.gridTokens } : {}) }),
    },
    runMetadata(["rankfuse", "compare", ...argv], backend.right),
    isPlain(plan) ? undefined : sweepSection(out, record),
  );
  if (E.isLeft(written)) return (console.error(`rankfuse compare: ${renderRunError(written.left)}`), 1);
  const report = `report: ${path.join(out, "report.md")} (and report.html)`;
  if (isPlain(plan)) {
    console.log(
      `\n${markdownTable(QUALITY_HEADERS, qualityRows(rows))}\n${markdownTable(COST_HEADERS, costRows(rows))}\n${report}`,
    );
    return 0;
  }
  const spread = plan.seeds.length > 1 ? `, mean ± std over seeds ${plan.seeds.join(", ")}` : "";
  const lrs = rows.map((r) => ran.right.best.get(r.method)!);
  const quality = withLrColumn(QUALITY_HEADERS, qualityRows(rows), lrs);
  const cost = withLrColumn(COST_HEADERS, costRows(rows), lrs);
  console.log(
    [
      `\nfinal validation loss by rate${plan.short ? ` (grid runs of ${formatNumber(record.gridTokens)} tokens)` : ""}${spread}:`,
      gridTable(record),
      `each method at its best rate${plan.short ? `, trained for ${formatNumber(tokens)} tokens` : ""}${spread}:`,
      markdownTable(...quality),
      markdownTable(...cost),
      report,
    ].join("\n"),
  );
  return 0;
}
