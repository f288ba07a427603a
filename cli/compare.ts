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
import { formatNumber } from "../util/format.ts";
import { parseFlags, UsageError } from "./args.ts";
import { MODEL_HELP, modelConfigFrom, RUN_FLAGS, RUN_HELP, runSettingsFrom } from "./trainFlags.ts";
import { runTraining } from "./session.ts";
import { checkResumable } from "./runDir.ts";
import { checkDataFits, checkMemory, checkOutDir, tokenizerFor } from "./preflight.ts";
import { trainableParams } from "../models/model.ts";

const HELP = `rankfuse compare: train several methods at the same width, on the same data, for the same tokens,
and print a quality table (params, validation loss, perplexity, bits/byte) and a cost table (FLOPs/token,
tokens/s, peak memory, optimizer state);
writes a report folder (report.md, report.html, SVG plots, results.json) and each run's checkpoint.

  --methods LIST       comma-separated, from ${METHODS.join(", ")} (default full,cola);
                       a method file of your own counts too: full,./my-method.ts
  --out DIR            report folder (default runs/compare-<date>-<time>); each method trains in DIR/<method>
${MODEL_HELP}
${RUN_HELP}`;

export async function compareCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...RUN_FLAGS, methods: { type: "string" } });
  if (values.help) return (console.log(HELP), 0);
  const cfg = modelConfigFrom(values);
  const s = runSettingsFrom(values, cfg);
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

  for (const { model, source } of models) {
    const ok = values.resume && source ? checkResumable(path.join(out, model.method), source) : E.right(undefined);
    if (E.isLeft(ok)) throw new UsageError(ok.left);
  }

  const tokens = s.steps * s.batch * s.seq;
  console.error(
    `compare ${names.join(", ")} on ${cfg.name} (d ${cfg.d}, ${cfg.layers} layers, rank ${cfg.rank}), ${backend.right.name} backend, ${s.steps} steps x ${s.batch}x${s.seq} = ${formatNumber(tokens)} tokens each, ${data.right.corpus}`,
  );
  const rows: CompareRow[] = [];
  for (const { model, source } of models) {
    console.error(`\n== ${model.method}: ${formatNumber(model.counts.total)} params`);
    const r = await runTraining(model, backend.right, data.right, s, {
      outDir: path.join(out, model.method),
      resume: !!values.resume,
      label: model.method,
      source,
    });
    if (E.isLeft(r)) return (console.error(`rankfuse compare: ${model.method}: ${renderRunError(r.left)}`), 1);
    if (r.right.stopped)
      return (
        console.error(
          `stopped during ${model.method}; continue with: rankfuse compare ${argv.filter((a) => a !== "--resume").join(" ")}${values.out ? "" : ` --out ${out}`} --resume`,
        ),
        130
      );
    rows.push({
      method: model.method,
      params: model.counts.total,
      nonEmbedding: model.counts.nonEmbedding,
      trainable: trainableParams(model),
      trainFlopsPerToken: 3 * model.forwardFlopsPerToken,
      tokensPerStep: s.batch * s.seq,
      result: r.right,
    });
  }
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
      lr: s.lr,
      seed: s.seed,
    },
    runMetadata(["rankfuse", "compare", ...argv], backend.right),
  );
  if (E.isLeft(written)) return (console.error(`rankfuse compare: ${renderRunError(written.left)}`), 1);
  console.log(
    `\n${markdownTable(QUALITY_HEADERS, qualityRows(rows))}\n${markdownTable(COST_HEADERS, costRows(rows))}\nreport: ${path.join(out, "report.md")} (and report.html)`,
  );
  return 0;
}
