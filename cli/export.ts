import * as E from "fp-ts/lib/Either.js";
import { exportWeights } from "../methods/exportWeights.ts";
import { mergeDense } from "../methods/mergeDense.ts";
import { renderRunError } from "../train/errors.ts";
import { parseFlags, UsageError } from "./args.ts";
import { loadWeights } from "./runDir.ts";

const HELP = `rankfuse export: write a run's weights as model.safetensors + config.json (Hugging Face LLaMA names;
see the README for each method's layout)

  --run DIR            a training run folder (its checkpoint.safetensors)
  --to DIR             where to write the export
  --merge              write the model as a dense LlamaForCausalLM (each projection multiplied out:
                       W + (α/r)·A·B, U·diag(Σ)·Vᵀ, ...); refused for a method whose function is not a
                       dense LLaMA (CoLA's SiLU between its factors, CR-Net's recurrence)`;

/** `rankfuse export`: a run's weights in Hugging Face names, as the method is or merged to a dense LLaMA. */
export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    run: { type: "string" },
    to: { type: "string" },
    merge: { type: "boolean" },
  });
  if (values.help) return (console.log(HELP), 0);
  if (!values.to) throw new UsageError("--to DIR is required");
  const w = await loadWeights({ run: values.run });
  if (E.isLeft(w)) throw new UsageError(renderRunError(w.left));
  const { model, params, source, step } = w.right;
  let what = `${model.method} ${model.config.name}`;
  let out = { model, params, source };
  if (values.merge) {
    const merged = await mergeDense(model, params);
    if (E.isLeft(merged)) return (console.error(`rankfuse export --merge: ${merged.left}`), 1);
    out = { ...merged.right, source: undefined };
    what = `${model.method} ${model.config.name} merged into a dense LLaMA`;
  }
  const r = exportWeights(values.to, out.model, out.params, out.source);
  if (E.isLeft(r)) return (console.error(`rankfuse export: ${renderRunError(r.left)}`), 1);
  console.log(`wrote ${r.right} and config.json (${what}, step ${step})`);
  return 0;
}
