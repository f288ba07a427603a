import * as E from "fp-ts/lib/Either.js";
import { backendUnavailable, type RankfuseError } from "../ir/errors.ts";
import type { Backend } from "../ir/backend.ts";

/** The usual wording for a backend that cannot run here. */
export const failedToLoad =
  (name: string) =>
  (why: string): string =>
    `backend ${name} failed to load: ${why}`;

/**
 * Runs a backend factory so that every way it can fail, a Left or a throw (a missing package, an addon
 * that does not build, no GPU adapter), becomes one BackendUnavailable error instead of an exception.
 * `explain` words the reason; backends whose reasons already name them pass `(why) => why`.
 */
export async function guardLoad(
  name: string,
  factory: () => Promise<E.Either<string, Backend<any>>>,
  explain: (why: string) => string = failedToLoad(name),
): Promise<E.Either<RankfuseError, Backend<any>>> {
  let why: string;
  try {
    const be = await factory();
    if (E.isRight(be)) return be;
    why = be.left;
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  return E.left(backendUnavailable(name, explain(why)));
}
