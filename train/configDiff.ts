/**
 * Compare two JSON config strings key by key, so a refused resume can say
 * exactly what changed ("checkpoint was made with d=256, this run has
 * d=512") instead of only "config mismatch".
 */

/** JSON with object keys sorted at every level, so key order and whitespace never count as a difference. */
export const canonicalJson = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  ) ?? "undefined";

const MAX_SHOWN = 80;

const show = (x: unknown): string => {
  if (x === undefined) return "(unset)";
  const s = canonicalJson(x);
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 1)}…` : s;
};

const parse = (s: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
};

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * One sentence per differing top-level key (sorted); empty when the two are
 * equal as JSON. Non-object or unparsable configs are compared whole.
 */
export const configDifferences = (saved: string, current: string): string[] => {
  const a = parse(saved),
    b = parse(current);
  if (!a.ok || !b.ok) {
    return saved === current
      ? []
      : [`checkpoint was made with config ${show(saved)}, this run has config ${show(current)}`];
  }
  if (!isPlainObject(a.value) || !isPlainObject(b.value)) {
    return canonicalJson(a.value) === canonicalJson(b.value)
      ? []
      : [`checkpoint was made with config ${show(a.value)}, this run has config ${show(b.value)}`];
  }
  const x = a.value,
    y = b.value;
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  return keys
    .filter((k) => canonicalJson(x[k]) !== canonicalJson(y[k]))
    .map((k) => `checkpoint was made with ${k}=${show(x[k])}, this run has ${k}=${show(y[k])}`);
};
