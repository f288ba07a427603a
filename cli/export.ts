import * as E from "fp-ts/lib/Either.js";
import { exportWeights } from "../methods/exportWeights.ts";
import { renderRunError } from "../train/errors.ts";
import { parseFlags, UsageError } from "./args.ts";
import { loadWeights } from "./runDir.ts";

const HELP = `rankfuse export: write a run's weights as model.safetensors + config.json (Hugging Face LLaMA names;
see the README for the layout)

  --run DIR            a training run folder (its checkpoint.safetensors)
  --to DIR             where to write the export`;

export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { run: { type: "string" }, to: { type: "string" } });
  if (values.help) return (console.log(HELP), 0);
  if (!values.to) throw new UsageError("--to DIR is required");
  const w = await loadWeights({ run: values.run });
  if (E.isLeft(w)) throw new UsageError(renderRunError(w.left));
  const r = exportWeights(values.to, w.right.model, w.right.params, w.right.source);
  if (E.isLeft(r)) return (console.error(`rankfuse export: ${renderRunError(r.left)}`), 1);
  console.log(
    `wrote ${r.right} and config.json (${w.right.model.method} ${w.right.model.config.name}, step ${w.right.step})`,
  );
  return 0;
}
