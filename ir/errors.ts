/**
 * Errors a user can cause are values: a tagged union that renders to one readable line.
 * Broken internal invariants throw ordinary Errors instead.
 */
export type RankfuseError =
  | { readonly tag: "ShapeError"; readonly op: string; readonly message: string }
  | { readonly tag: "DtypeError"; readonly op: string; readonly message: string }
  | { readonly tag: "UnboundDim"; readonly dim: string; readonly message: string }
  | { readonly tag: "UnsupportedOp"; readonly op: string; readonly backend: string; readonly message: string }
  | { readonly tag: "InputError"; readonly message: string }
  | { readonly tag: "ConfigError"; readonly message: string }
  | { readonly tag: "BackendUnavailable"; readonly backend: string; readonly message: string };

/** One readable line for an error value: `ShapeError: matmul: ...`. */
export const renderError = (e: RankfuseError): string => `${e.tag}: ${e.message}`;

/** Carries a RankfuseError through tracing, where ops cannot return Either; `compile` turns it back into a Left. */
export class RankfuseException extends Error {
  constructor(readonly error: RankfuseError) {
    super(renderError(error));
    this.name = "RankfuseException";
  }
}

/** A shape that does not fit, raised by `op`. */
export const shapeError = (op: string, message: string): RankfuseError => ({
  tag: "ShapeError",
  op,
  message: `${op}: ${message}`,
});
/** A dtype that does not fit, raised by `op`. */
export const dtypeError = (op: string, message: string): RankfuseError => ({
  tag: "DtypeError",
  op,
  message: `${op}: ${message}`,
});
/** A backend that cannot run on this machine; `message` says why (and, where it can, what to install). */
export const backendUnavailable = (backend: string, message: string): RankfuseError => ({
  tag: "BackendUnavailable",
  backend,
  message,
});
