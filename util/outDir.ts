import fs from "node:fs";
import path from "node:path";

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

/**
 * Why `dir` cannot be a run's output folder, or undefined when it can: the path exists as a folder or can
 * be created, and a folder can be made in it (or in its nearest existing parent). Leaves nothing behind.
 * Checked before any work, so a bad --out is one line at once rather than a failure after training.
 */
export function outDirProblem(dir: string): string | undefined {
  if (dir.trim() === "") return "is empty: give a folder";
  const abs = path.resolve(dir);
  let p = abs;
  for (;;) {
    try {
      if (!fs.statSync(p).isDirectory())
        return p === abs ? `${dir} is a file, not a folder` : `cannot write to ${dir}: ${p} is a file, not a folder`;
      break;
    } catch (e) {
      const code = codeOf(e);
      if (code !== "ENOENT" && code !== "ENOTDIR") return `cannot use ${dir}: ${code}`;
      const up = path.dirname(p);
      if (up === p) return `cannot use ${dir}: no part of it exists`;
      p = up;
    }
  }
  // a probe folder in the nearest existing one: write permission, a read-only mount, /proc and /sys
  const probe = path.join(p, `.rankfuse-write-check-${process.pid}`);
  try {
    fs.mkdirSync(probe);
  } catch (e) {
    return `cannot write to ${dir}: cannot make a folder in ${p} (${codeOf(e)})`;
  }
  fs.rmdirSync(probe);
  return undefined;
}

/**
 * `fs.mkdirSync(dir, { recursive: true })`, one level at a time: Node 20's recursive mkdir never returns
 * on a path it cannot create under /proc (it retries ENOENT forever at 100% CPU); this throws instead.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); !fs.existsSync(p); p = path.dirname(p)) {
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if (codeOf(e) !== "EEXIST") throw e;
    }
  }
}
