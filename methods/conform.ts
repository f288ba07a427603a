/**
 * Checks that a value from a user's file is a `Method`, and guards its `build`: a method from a file is
 * input, so what is wrong with it is reported as a value naming the file, never thrown.
 */
import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../ir/errors.ts";
import type { TrainableModel } from "../train/scheme.ts";
import { isEither, type Method } from "./method.ts";

/** Method names become folder names (`compare` trains each in DIR/<name>): a letter, then letters, digits, _ . - */
const NAME = /^[A-Za-z][\w.-]*$/;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;

/** What keeps `value` from being a Method (empty when it is one). */
export function checkMethod(value: unknown): string[] {
  if (!isObject(value)) return [`expected an object { name, summary, build }, got ${describe(value)}`];
  const problems: string[] = [];
  if (typeof value.name !== "string" || !NAME.test(value.name))
    problems.push(
      `name must be a string of letters, digits, _ . - starting with a letter, got ${describe(value.name)}`,
    );
  if (typeof value.summary !== "string") problems.push(`summary must be a string, got ${describe(value.summary)}`);
  if (typeof value.build !== "function") problems.push("build must be a function from a config to a model");
  return problems;
}

/** What keeps a build's result from being a model (empty when it is one). */
function checkModel(m: unknown): string[] {
  if (!isObject(m)) return [`expected a model, got ${describe(m)}`];
  const problems: string[] = [];
  for (const k of ["init", "loss", "logits"]) if (typeof m[k] !== "function") problems.push(`${k} is not a function`);
  const layout = m.layout as Record<string, unknown> | undefined;
  if (!isObject(layout) || !Array.isArray(layout.names) || !Array.isArray(layout.shapes))
    problems.push("layout has no names and shapes");
  if (typeof m.method !== "string") problems.push("method is not a string");
  if (!isObject(m.config)) problems.push("config is missing");
  if (!isObject(m.counts) || typeof m.counts.total !== "number") problems.push("counts are missing");
  if (typeof m.forwardFlopsPerToken !== "number") problems.push("forwardFlopsPerToken is not a number");
  return problems;
}

const isRankfuseError = (x: unknown): x is RankfuseError =>
  isObject(x) && typeof x.tag === "string" && typeof x.message === "string";

/** A short description of a value for messages. */
function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 39)}…` : x);
  if (typeof x === "function") return "a function";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? "an object" : `${typeof x} ${String(x)}`;
}

/**
 * The method with a `build` that cannot throw or return a non-model: a throw, a Left that is not a
 * RankfuseError, or a result that is not a model becomes a ConfigError naming the method and its file.
 */
export function guardBuild(method: Method, file: string): Method {
  const fail = (why: string): E.Either<RankfuseError, never> =>
    E.left({ tag: "ConfigError", message: `method ${method.name} (${file}): ${why}` });
  return {
    name: method.name,
    summary: method.summary,
    build: (cfg) => {
      let r: unknown;
      try {
        r = method.build(cfg);
      } catch (e) {
        return fail(`build threw: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (isEither(r) && E.isLeft(r))
        return isRankfuseError(r.left) ? E.left(r.left) : fail(`build failed: ${describe(r.left)}`);
      const model = isEither(r) && E.isRight(r) ? r.right : r;
      const problems = checkModel(model);
      return problems.length > 0
        ? fail(`build returned no model (${problems.join("; ")}): build one with assembleModel from rankfuse/models`)
        : E.right(model as TrainableModel);
    },
  };
}
