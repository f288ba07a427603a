/**
 * rankfuse's cache directory: `$RANKFUSE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/rankfuse`, else `~/.cache/rankfuse`. Prepared token files
 * live in its `tokens/` folder, one folder per (data, tokenizer, options).
 * (The compiled native addon keeps its own cache; see backends/native/build.ts.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const cacheDir = (env: NodeJS.ProcessEnv = process.env): string => {
  if (env.RANKFUSE_CACHE_DIR) return path.resolve(env.RANKFUSE_CACHE_DIR);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), "rankfuse");
  const home = os.homedir();
  return home ? path.join(home, ".cache", "rankfuse") : path.join(os.tmpdir(), "rankfuse-cache");
};

/** Where prepared token files are cached. */
export const tokenCacheDir = (env: NodeJS.ProcessEnv = process.env): string => path.join(cacheDir(env), "tokens");

/** Total bytes of the files under `p` (0 when missing). */
export const diskUsage = (p: string): number => {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, e) => n + diskUsage(path.join(p, e)), 0);
};
