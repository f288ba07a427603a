import { parseArgs, type ParseArgsConfig } from "node:util";

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** What parseFlags returns for flags `O` (plus --help), spelled out so declaration output can name it. */
export type ParsedFlags<O extends Options> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & { help: { type: "boolean"; short: string } };
    strict: true;
    allowPositionals: false;
  }>
>;

/** The range of a numeric flag: an integer or a real number, between `min` and `max` (inclusive unless `above`). */
export interface FlagRange {
  readonly int: boolean;
  readonly min: number;
  readonly max: number;
  /** `min` itself is refused (--lr 0). */
  readonly above?: boolean;
}

const int = (min: number, max: number): FlagRange => ({ int: true, min, max });
const SIZE = 1 << 20; // model sizes: a width of 1M is far past any machine; the memory check refuses sooner
const COUNT = 1e9; // steps and intervals

/**
 * Every numeric flag of every command, by name, with its range: parseFlags checks each one given, so a
 * value out of range is one line and exit code 2 before any work, whatever the command.
 */
export const FLAG_RANGES: Readonly<Record<string, FlagRange>> = {
  rank: int(1, SIZE),
  width: int(1, SIZE),
  layers: int(1, SIZE),
  heads: int(1, SIZE),
  ff: int(1, SIZE),
  vocab: int(1, SIZE),
  batch: int(1, 1 << 24),
  seq: int(1, 1 << 24),
  steps: int(1, COUNT),
  tokens: int(1, 1e15),
  warmup: int(0, COUNT),
  seed: int(0, Number.MAX_SAFE_INTEGER),
  "eval-every": int(0, COUNT),
  "eval-batches": int(1, 1e6),
  "checkpoint-every": int(0, COUNT),
  "skip-nonfinite": int(0, COUNT),
  rounds: int(1, 1e6),
  seeds: int(1, 1e4),
  "sweep-tokens": int(1, 1e15),
  // no upper bound: a huge lr is a run that diverges, which the loop stops and explains (README "Divergence")
  lr: { int: false, min: 0, max: Number.MAX_VALUE, above: true },
  "min-lr-ratio": { int: false, min: 0, max: 1 },
  "weight-decay": { int: false, min: 0, max: 1 },
  clip: { int: false, min: 0, max: 1e6 },
};

/** Flags that name a file or folder: an empty string there is a mistake (an unset shell variable), not "none". */
export const PATH_FLAGS: readonly string[] = ["out", "data", "run", "weights", "to", "torch"];

/** Refuses a value outside `range` for `--name` with a UsageError saying the range. */
export function checkRange(v: string, name: string, range: FlagRange): number {
  const n = v.trim() === "" ? NaN : Number(v);
  const ok =
    Number.isFinite(n) &&
    (!range.int || Number.isSafeInteger(n)) &&
    (range.above ? n > range.min : n >= range.min) &&
    n <= range.max;
  if (!ok) {
    const what = range.int ? "an integer" : "a number";
    const lo = range.above ? `> ${range.min}` : `>= ${range.min}`;
    const hi = range.max < Number.MAX_VALUE ? ` and <= ${range.max.toLocaleString("en-US")}` : "";
    throw new UsageError(`--${name} must be ${what} ${lo}${hi}, got "${v}"`);
  }
  return n;
}

/** `--lr -1` reads as a flag named -1 to parseArgs; a numeric flag followed by a negative number takes it. */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!,
      next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (name && options[name]?.type === "string" && next !== undefined && /^-(\d|\.\d|Infinity|NaN)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Strict flag parsing: an unknown flag or a missing value is a UsageError naming it, and so is a numeric
 * flag out of its range (FLAG_RANGES) or an empty path (PATH_FLAGS). `lists` names numeric flags that take
 * a comma-separated list here (compare's `--lr`): the command checks their items itself.
 */
export function parseFlags<O extends Options>(
  argv: string[],
  options: O,
  lists: readonly (keyof O & string)[] = [],
): ParsedFlags<O> {
  let parsed: ParsedFlags<O>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ""));
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [name, v] of Object.entries(values)) {
    if (typeof v !== "string") continue;
    const range = FLAG_RANGES[name];
    if (range && !(lists as readonly string[]).includes(name)) checkRange(v, name, range);
    if (PATH_FLAGS.includes(name) && v.trim() === "") throw new UsageError(`--${name} is empty: give a path`);
  }
  return parsed;
}

/**
 * One setting under two flag names (train calls the model `--method`, inspect `--model`, and users mix
 * them up): either is taken, and two that disagree are refused rather than one silently winning.
 */
export function aliasedFlag(values: Record<string, unknown>, name: string, alias: string): string | undefined {
  const a = values[name] as string | undefined,
    b = values[alias] as string | undefined;
  if (a !== undefined && b !== undefined && a !== b)
    throw new UsageError(`--${name} "${a}" and --${alias} "${b}" disagree (they are the same setting)`);
  return a ?? b;
}

export function intFlag(v: string | undefined, name: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  return checkRange(v, name, { ...(FLAG_RANGES[name] ?? { max: Number.MAX_SAFE_INTEGER }), int: true, min });
}

export function numFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  return checkRange(v, name, FLAG_RANGES[name] ?? { int: false, min: -Infinity, max: Infinity });
}

export function choiceFlag<C extends string>(v: string | undefined, name: string, choices: readonly C[], dflt: C): C {
  if (v === undefined) return dflt;
  if (!(choices as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${v}"`);
  return v as C;
}
