import * as E from "fp-ts/lib/Either.js";
import { renderRunError } from "../train/errors.ts";
import { DEFAULT_TEXT_FIELD, prepareTokens } from "../train/prepare.ts";
import { tokenizerByName, tokenizerNames } from "../train/tokenizer.ts";
import { tokenCacheDir } from "../train/cacheDir.ts";
import { formatNumber } from "../util/format.ts";
import { parseFlags, UsageError } from "./args.ts";
import { dataProgress } from "./dataProgress.ts";

const HELP = `rankfuse prepare: tokenize a corpus once into token files that training reads from disk

usage: rankfuse prepare --data PATH [--tokenizer NAME] [--text-field F] [--out DIR]

  --data PATH          a .txt/.md file, a .jsonl or .jsonl.gz file (one JSON document per line),
                       a .parquet file, or a directory of such files (default: the shipped books)
  --tokenizer NAME     ${tokenizerNames.join(" | ")} (default bytes)
  --text-field F       the JSON field or parquet column holding the text (default "${DEFAULT_TEXT_FIELD}")
  --out DIR            write train.bin, val.bin and manifest.json here (default: the cache,
                       ${tokenCacheDir()})

The token files are little-endian uint16 (uint32 for vocabularies over 65,536), as nanoGPT's
train.bin. A finished preparation is reused while its sources keep their sizes and mtimes; an
interrupted one continues from the last finished source file. \`train --data DIR\` reads a folder
written with --out directly; \`train --data PATH\` prepares into the cache when needed.`;

/** `rankfuse prepare`: corpus to token files, with a progress line for long work. */
export async function prepareCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: "string" },
    tokenizer: { type: "string" },
    "text-field": { type: "string" },
    out: { type: "string" },
  });
  if (values.help) return (console.log(HELP), 0);
  if (values["text-field"] === "") throw new UsageError("--text-field must not be empty");
  const tok = await tokenizerByName(values.tokenizer ?? "bytes");
  if (E.isLeft(tok)) throw new UsageError(renderRunError(tok.left));
  const p = await prepareTokens({
    data: values.data,
    tokenizer: tok.right,
    textField: values["text-field"],
    out: values.out,
    onProgress: dataProgress(),
  });
  if (E.isLeft(p)) throw new UsageError(renderRunError(p.left));
  const m = p.right.manifest;
  const how = p.right.reused
    ? "already prepared"
    : p.right.resumedFiles > 0
      ? `continued after ${p.right.resumedFiles} files`
      : "prepared";
  console.log(
    `${how}: ${p.right.dir}\n  ${m.corpus}, ${m.sources.length} source file(s), tokenizer ${m.tokenizer}, ${m.dtype}: ${formatNumber(m.train.tokens)} train / ${formatNumber(m.val.tokens)} val tokens`,
  );
  return 0;
}
