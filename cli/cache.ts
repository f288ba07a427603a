import * as fs from "node:fs";
import * as path from "node:path";
import { cacheDir, diskUsage, tokenCacheDir } from "../train/cacheDir.ts";
import { parseFlags } from "./args.ts";

const HELP = `rankfuse cache: what rankfuse keeps in its cache directory, and clearing it

usage: rankfuse cache           list the prepared token files and their sizes
       rankfuse cache clear     delete them (they are rebuilt when needed)

The cache directory is $RANKFUSE_CACHE_DIR, else $XDG_CACHE_HOME/rankfuse, else ~/.cache/rankfuse;
prepared corpora live in its tokens/ folder. (The compiled native addon keeps its own cache,
.cache/rankfuse/native in the package folder; \`cache clear\` leaves it alone.)`;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** `rankfuse cache [clear]`. */
export async function cacheCommand(argv: string[]): Promise<number> {
  const action = argv[0] === "clear" ? "clear" : undefined;
  const { values } = parseFlags(action ? argv.slice(1) : argv, {});
  if (values.help) return (console.log(HELP), 0);
  const dir = tokenCacheDir();
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  if (action === "clear") {
    const bytes = diskUsage(dir);
    for (const e of entries) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
    console.log(`cleared ${entries.length} entr${entries.length === 1 ? "y" : "ies"} (${mb(bytes)}) from ${dir}`);
    return 0;
  }
  console.log(`cache directory: ${cacheDir()}`);
  let total = 0;
  for (const e of entries) {
    const full = path.join(dir, e);
    const bytes = diskUsage(full);
    total += bytes;
    let what = e.endsWith(".partial") ? "unfinished preparation" : "?";
    try {
      const m = JSON.parse(fs.readFileSync(path.join(full, "manifest.json"), "utf8"));
      what = `${m.data} (${m.tokenizer}, ${(m.train.tokens + m.val.tokens).toLocaleString("en-US")} tokens, ${m.createdAt})`;
    } catch {
      /* an unfinished or foreign entry: listed by name */
    }
    console.log(`  ${mb(bytes).padStart(10)}  tokens/${e}  ${what}`);
  }
  console.log(`${entries.length} entr${entries.length === 1 ? "y" : "ies"}, ${mb(total)} in ${dir}`);
  return 0;
}
