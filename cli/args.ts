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

/** Strict flag parsing: an unknown flag or a missing value is a UsageError naming it. */
export function parseFlags<O extends Options>(argv: string[], options: O): ParsedFlags<O> {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ""));
  }
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
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function numFlag(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

export function choiceFlag<C extends string>(v: string | undefined, name: string, choices: readonly C[], dflt: C): C {
  if (v === undefined) return dflt;
  if (!(choices as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${v}"`);
  return v as C;
}
