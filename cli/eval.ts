import * as E from "fp-ts/lib/Either.js";
import { renderError } from "../ir/errors.ts";
import { loadBackend } from "../backends/index.ts";
import { evalWindows } from "../train/batches.ts";
import { loadData } from "../train/data.ts";
import { evaluate } from "../train/evaluate.ts";
import { compileEvalStep } from "../train/step.ts";
import { renderRunError } from "../train/errors.ts";
import { intFlag, parseFlags, UsageError } from "./args.ts";
import { loadWeights } from "./runDir.ts";
import { describeNonFinite, nonFiniteWeights } from "../train/divergence.ts";

const HELP = `rankfuse eval: validation loss, perplexity and bits per byte of trained weights

  --run DIR            a training run folder (its checkpoint.safetensors)
  --weights DIR        or an export folder (model.safetensors + config.json), or a PyTorch package's
                       weights (weights.safetensors + config.json, as its train.py writes them); its
                       checksums.json is verified first (a folder without one is read with a note)
  --data PATH          text to evaluate on (default: the held-out Gutenberg books)
  --batch B --seq T    evaluation batch (default from the model's config)
  --eval-batches N     batches to average (default 16)
  --backend NAME       auto | wasm | cpu | reference`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    run: { type: "string" },
    weights: { type: "string" },
    data: { type: "string" },
    batch: { type: "string" },
    seq: { type: "string" },
    "eval-batches": { type: "string" },
    backend: { type: "string" },
  });
  if (values.help) return (console.log(HELP), 0);
  const w = await loadWeights({ run: values.run, weights: values.weights });
  if (E.isLeft(w)) throw new UsageError(renderRunError(w.left));
  if (w.right.note) console.error(`note: ${w.right.note}`);
  const { model, params, tokenizer } = w.right;
  const bad = nonFiniteWeights(model.layout.names, params);
  if (bad)
    return (
      console.error(`rankfuse eval: the weights are not finite: ${describeNonFinite(bad)} (the run diverged)`),
      1
    );
  const batch = intFlag(values.batch, "batch", model.config.batch),
    seq = intFlag(values.seq, "seq", model.config.seq);
  const backend = await loadBackend(values.backend || undefined);
  if (E.isLeft(backend)) throw new UsageError(renderError(backend.left));
  const data = await loadData({ data: values.data, tokenizer });
  if (E.isLeft(data)) throw new UsageError(renderRunError(data.left));
  const batches = evalWindows(data.right.val, seq, batch, intFlag(values["eval-batches"], "eval-batches", 16));
  if (E.isLeft(batches)) throw new UsageError(renderRunError(batches.left));
  const step = compileEvalStep(model, backend.right, batch, seq);
  if (E.isLeft(step)) return (console.error(renderError(step.left)), 1);
  const r = await evaluate((x, y) => step.right.run(params, x, y), batches.right, data.right.bytesPerToken);
  if (E.isLeft(r)) return (console.error(renderRunError(r.left)), 1);
  console.log(
    `${model.method} ${model.config.name}${w.right.step !== undefined ? ` at step ${w.right.step}` : ""} on ${data.right.corpus} (${batches.right.length} x ${batch}x${seq} tokens): loss ${r.right.loss.toFixed(4)}, perplexity ${r.right.ppl.toFixed(2)}, ${r.right.bitsPerByte.toFixed(3)} bits/byte`,
  );
  return 0;
}
