import * as E from "fp-ts/lib/Either.js";

/**
 * The value of a Right, or a thrown Error carrying a Left's rendered message (`ShapeError: ...`): for
 * tests and scripts, where a failed compile or load should stop with its own explanation.
 */
export function unwrap<T>(e: E.Either<{ readonly tag: string; readonly message: string }, T>): T {
  if (E.isLeft(e)) throw new Error(`${e.left.tag}: ${e.left.message}`);
  return e.right;
}
