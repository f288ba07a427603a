/**
 * Elementwise closeness, the test of torch.testing.assert_close and numpy.allclose:
 * |actual − expected| <= atol + rtol·|expected| everywhere. Equal values (infinities included) are
 * close; NaN is close only to NaN and only with `equalNan`. Both sides may be arrays, typed arrays,
 * `{ data, shape }` pairs or trees of them (outputs and gradients as a compiled function returns them);
 * a failure names each leaf that differs, its worst element (multi-index where the shape is known),
 * both values, the absolute and relative error, and how many elements are out of tolerance.
 *
 *   expectAllclose(grads, want, { rtol: 1e-4, atol: 1e-6, what: "gradients" });
 *   // gradients: not close in 1 of 2 leaves (tolerance atol 1e-6 + rtol 1e-4·|expected|):
 *   //   A: 3 of 120 elements out of tolerance; worst at [2, 5] (flat 17): actual 5, expected 2 (abs error 3, rel error 1.5, allowed 0.0002)
 */
import { formatValue } from "./format.ts";
import { pathLeaves, type PathLeaf } from "./tree.ts";

/** Tolerances of a closeness check: relative to the expected value, and absolute. */
export interface Tolerance {
  /** Relative tolerance (default 1e-3, float32-friendly). */
  readonly rtol?: number;
  /** Absolute tolerance (default 1e-4). */
  readonly atol?: number;
  /** NaN in both at the same place counts as close (default false: NaN is never close). */
  readonly equalNan?: boolean;
}

/** What `expectAllclose` takes besides tolerances: a name for the compared values, printed first. */
export interface AllcloseOptions extends Tolerance {
  readonly what?: string;
}

/** Why one leaf is not close. */
export type Mismatch =
  | { readonly kind: "structure"; readonly path: string; readonly detail: string }
  | {
      readonly kind: "shape";
      readonly path: string;
      readonly actual: readonly number[];
      readonly expected: readonly number[];
    }
  | { readonly kind: "length"; readonly path: string; readonly actual: number; readonly expected: number }
  | {
      readonly kind: "values";
      readonly path: string;
      /** Flat index of the worst element, and its multi-index where the shape is known. */
      readonly index: number;
      readonly at?: readonly number[];
      readonly actual: number;
      readonly expected: number;
      readonly absError: number;
      /** |actual − expected| / |expected| (Infinity where expected is 0). */
      readonly relError: number;
      /** atol + rtol·|expected| at the worst element. */
      readonly allowed: number;
      /** Elements out of tolerance, of `total`. */
      readonly violations: number;
      readonly total: number;
    };

/** A failed comparison: every leaf that differs, the tolerances, and the rendered report. */
export interface AllcloseReport {
  readonly mismatches: readonly Mismatch[];
  /** Leaves compared. */
  readonly leaves: number;
  readonly rtol: number;
  readonly atol: number;
  /** The readable report, one line per differing leaf under a header. */
  readonly message: string;
}

const DEFAULT_RTOL = 1e-3;
const DEFAULT_ATOL = 1e-4;

/**
 * Compares `actual` with `expected` (same tree structure, shapes and lengths; elements within
 * atol + rtol·|expected|): null when everything is close, otherwise what differs and the report.
 */
export function allcloseReport(actual: unknown, expected: unknown, tol: AllcloseOptions = {}): AllcloseReport | null {
  const { rtol = DEFAULT_RTOL, atol = DEFAULT_ATOL, equalNan = false } = tol;
  const a = pathLeaves(actual),
    e = pathLeaves(expected);
  const mismatches: Mismatch[] = [];
  const aPaths = a.map((l) => l.path).join(", "),
    ePaths = e.map((l) => l.path).join(", ");
  if (aPaths !== ePaths) {
    mismatches.push({ kind: "structure", path: "", detail: `leaves (${aPaths || "none"}) vs (${ePaths || "none"})` });
  } else {
    a.forEach((leaf, i) => {
      const m = compareLeaf(leaf, e[i]!, rtol, atol, equalNan);
      if (m) mismatches.push(m);
    });
  }
  if (!mismatches.length) return null;
  return { mismatches, leaves: a.length, rtol, atol, message: render(mismatches, a.length, rtol, atol, tol.what) };
}

function compareLeaf(a: PathLeaf, e: PathLeaf, rtol: number, atol: number, equalNan: boolean): Mismatch | null {
  const path = a.path;
  if (a.shape && e.shape && a.shape.join() !== e.shape.join())
    return { kind: "shape", path, actual: a.shape, expected: e.shape };
  if (a.data.length !== e.data.length) return { kind: "length", path, actual: a.data.length, expected: e.data.length };
  let worst = -1,
    worstExcess = -Infinity,
    violations = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!,
      y = e.data[i]!;
    if (x === y || (equalNan && Number.isNaN(x) && Number.isNaN(y))) continue;
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (excess <= 0) continue; // NaN (and ∞ against a finite value) fall through as violations
    violations++;
    const size = Number.isNaN(excess) ? Infinity : excess;
    if (worst < 0 || size > worstExcess) [worst, worstExcess] = [i, size];
  }
  if (worst < 0) return null;
  const x = a.data[worst]!,
    y = e.data[worst]!;
  const absError = Math.abs(x - y);
  const shape = e.shape ?? a.shape;
  return {
    kind: "values",
    path,
    index: worst,
    ...(shape && shape.length > 1 ? { at: unravel(worst, shape) } : {}),
    actual: x,
    expected: y,
    absError,
    relError: y === 0 ? (absError === 0 ? 0 : Infinity) : absError / Math.abs(y),
    allowed: atol + rtol * Math.abs(y),
    violations,
    total: a.data.length,
  };
}

/** The row-major multi-index of a flat index. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const at = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    at[k] = flat % shape[k]!;
    flat = Math.floor(flat / shape[k]!);
  }
  return at;
}

const num = (x: number): string => formatValue(x, 7);
const err = (x: number): string => formatValue(x, 3);

/** One mismatch in words; `tolerance` is how a values mismatch states the rule it broke. */
function describeMismatch(m: Mismatch, tolerance: string): string {
  switch (m.kind) {
    case "structure":
      return `different structure: ${m.detail} (actual vs expected)`;
    case "shape":
      return `shapes differ: [${m.actual.join(", ")}] vs [${m.expected.join(", ")}] (actual vs expected)`;
    case "length":
      return `lengths differ: ${m.actual} vs ${m.expected} (actual vs expected)`;
    case "values": {
      const where = m.at ? `[${m.at.join(", ")}] (flat ${m.index})` : `${m.index}`;
      return (
        `${m.violations} of ${m.total} elements ${tolerance}; worst at ${where}: actual ${num(m.actual)}, ` +
        `expected ${num(m.expected)} (abs error ${err(m.absError)}, rel error ${err(m.relError)}, allowed ${err(m.allowed)})`
      );
    }
  }
}

function render(ms: readonly Mismatch[], leaves: number, rtol: number, atol: number, what?: string): string {
  const rule = `atol ${err(atol)} + rtol ${err(rtol)}·|expected|`;
  const head = `${what ? `${what}: ` : ""}not close`;
  if (ms.length === 1 && leaves <= 1) return `${head}: ${describeMismatch(ms[0]!, `exceed ${rule}`)}`;
  const lines = ms.map((m) => `  ${m.path || "(root)"}: ${describeMismatch(m, "out of tolerance")}`);
  const of = ms[0]!.kind === "structure" ? "" : ` in ${ms.length} of ${leaves} leaves`;
  return [`${head}${of} (tolerance ${rule}):`, ...lines].join("\n");
}

/**
 * The report (every differing leaf) as a string, or null when all elements are close: positional
 * tolerances, for `expect(allcloseViolation(a, b, 1e-5, 1e-6)).toBeNull()`, which prints the report.
 */
export function allcloseViolation(
  actual: unknown,
  expected: unknown,
  rtol = DEFAULT_RTOL,
  atol = DEFAULT_ATOL,
): string | null {
  return allcloseReport(actual, expected, { rtol, atol })?.message ?? null;
}

/** True when `actual` and `expected` have the same structure and lengths and every element is close. */
export const allclose = (actual: unknown, expected: unknown, tol: Tolerance = {}): boolean =>
  allcloseReport(actual, expected, tol) === null;

/**
 * Throws an Error whose message is the report (worst element per differing leaf, both values, errors,
 * how many elements are out of tolerance) unless `actual` is close to `expected`: torch's assert_close.
 */
export function expectAllclose(actual: unknown, expected: unknown, opts: AllcloseOptions = {}): void {
  const report = allcloseReport(actual, expected, opts);
  if (report) throw new AllcloseError(report);
}

/** The same check as `expectAllclose`, under the name PyTorch users know (`assert_close`). */
export const assertAllclose = expectAllclose;

/** The Error `expectAllclose` throws; `report` holds the mismatches for a test to inspect. */
export class AllcloseError extends Error {
  declare readonly report: AllcloseReport;
  constructor(report: AllcloseReport) {
    super(report.message);
    this.name = "AllcloseError";
    // not enumerable: test runners that print an error's own fields would print the report twice
    Object.defineProperty(this, "report", { value: report, enumerable: false });
  }
}
