import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { loadBackend } from "../backends/index.ts";
import { METHODS } from "../methods/index.ts";
import { resolveModel } from "../methods/resolve.ts";
import { loadData } from "../train/data.ts";
import { dataProgress } from "./dataProgress.ts";
import { renderRunError } from "../train/errors.ts";
import { formatNumber } from "../util/format.ts";
import { aliasedFlag, parseFlags, UsageError } from "./args.ts";
import { MODEL_HELP, modelConfigFrom, RUN_FLAGS, RUN_HELP, runSettingsFrom } from "./trainFlags.ts";
import { runTraining } from "./session.ts";
import { checkResumable } from "./runDir.ts";
import { checkDataFits, checkMemory, checkOutDir, tokenizerFor } from "./preflight.ts";

const HELP = `rankfuse train: train one model on text and report validation perplexity

  --method NAME        ${METHODS.join(" | ")} (default cola; --model NAME says the same),
                       or a file of your own, ./my-method.ts (see examples/README.md)
${MODEL_HELP}
${RUN_HELP}`;

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...RUN_FLAGS, method: { type: "string" }, model: { type: "string" } });
  if (values.help) return (console.log(HELP), 0);
  const cfg = modelConfigFrom(values);
  const settings = runSettingsFrom(values, cfg);
  if (values.resume && !values.out) throw new UsageError("--resume needs --out DIR (where the checkpoint is)");
  checkOutDir(values.out);
  const model = await resolveModel(aliasedFlag(values, "method", "model") ?? "cola", cfg);
  if (E.isLeft(model)) throw new UsageError(renderError(model.left));
  const { source } = model.right;
  checkMemory(model.right.model, settings.batch, settings.seq, { skip: values["no-memory-check"] });
  await tokenizerFor(values.tokenizer, model.right.model);
  if (values.resume && source) {
    const ok = checkResumable(values.out!, source);
    if (E.isLeft(ok)) throw new UsageError(ok.left);
  }
  const backend = await loadBackend(values.backend || undefined);
  if (E.isLeft(backend)) throw new UsageError(renderError(backend.left));
  const data = await loadData({
    data: values.data,
    tokenizer: values.tokenizer,
    textField: values["text-field"],
    onProgress: dataProgress(),
  });
  if (E.isLeft(data)) throw new UsageError(renderRunError(data.left));
  checkDataFits(data.right, settings);

  const m = model.right.model;
  console.error(
    `${m.method} ${cfg.name}: ${formatNumber(m.counts.total)} params (${formatNumber(m.counts.nonEmbedding)} non-embedding), backend ${backend.right.name}, ${settings.steps} steps of ${settings.batch}x${settings.seq} tokens on ${data.right.corpus} (${formatNumber(data.right.train.length)} train / ${formatNumber(data.right.val.length)} val tokens)`,
  );
  const r = await runTraining(m, backend.right, data.right, settings, {
    outDir: values.out,
    resume: !!values.resume,
    label: m.method,
    source,
  });
  if (E.isLeft(r)) return (console.error(`rankfuse train: ${renderRunError(r.left)}`), 1);
  const res = r.right;
  if (res.stopped)
    return (console.log(`stopped at step ${res.steps}; resume with --resume --out ${values.out ?? "DIR"}`), 130);
  if (res.alreadyFinished)
    return (
      console.log(
        `already finished: ${res.steps} steps in ${values.out}, validation loss ${res.final.loss.toFixed(4)}, perplexity ${res.final.ppl.toFixed(2)}; nothing was changed`,
      ),
      0
    );
  if (!Number.isFinite(res.final.ppl)) {
    // the params are finite (the loop checks each step) but the model is useless: not a success
    console.error(
      `rankfuse train: DivergenceError: the final validation loss is ${res.final.loss.toFixed(4)} (perplexity ${res.final.ppl}): the run did not learn; try a lower --lr (now ${settings.lr})${settings.clip > 0 ? ` or a smaller --clip (now ${settings.clip})` : " or --clip 1 (clipping is off)"}${values.out ? `; its checkpoint of step ${res.steps} is in ${values.out}` : ""}`,
    );
    return 1;
  }
  console.log(
    `done: ${res.steps} steps, ${res.tokensPerSec.toFixed(0)} tokens/s, validation loss ${res.final.loss.toFixed(4)}, perplexity ${res.final.ppl.toFixed(2)}, ${res.final.bitsPerByte.toFixed(3)} bits/byte`,
  );
  return 0;
}
