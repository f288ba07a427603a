/**
 * A `Dim` names one axis at the type level (`Dim<"d">`) and carries its size at run time.
 * Two dims agree when their sizes agree and their names agree; the name `_` is a wildcard,
 * used for axes that rankfuse derives itself (for example a flattened `b*t` axis).
 */
export interface Dim<N extends string = string> {
  readonly name: N;
  /** NaN while unbound: `compile` binds it from its `dims` option. */
  readonly size: number;
}

/** A shape is a tuple of dims; the empty tuple is a scalar. */
export type Shape = readonly Dim[];

/** A named dim, `dim("d", 128)`; without a size it is unbound until `compile`'s `dims` binds it. */
export function dim<N extends string>(name: N, size?: number): Dim<N> {
  if (size !== undefined && !(Number.isInteger(size) && size >= 0)) {
    throw new RangeError(`dim ${name}: size must be a non-negative integer, got ${size}`);
  }
  return { name, size: size ?? Number.NaN };
}

/** An axis that rankfuse computed (a merged or size-1 axis); matches any name. */
export function anon(size: number): Dim<"_"> {
  return dim("_", size);
}

export const isBound = (d: Dim): boolean => Number.isInteger(d.size);

export function dimsAgree(a: Dim, b: Dim): boolean {
  return a.size === b.size && (a.name === b.name || a.name === "_" || b.name === "_");
}

export const sizes = (s: Shape): number[] => s.map((d) => d.size);

export const numel = (s: Shape | readonly number[]): number =>
  (s as readonly (Dim | number)[]).reduce<number>((n, d) => n * (typeof d === "number" ? d : d.size), 1);

/**
 * numpy's broadcast of two shapes (aligned right; a size-1 axis stretches), or null when they do not
 * broadcast. Equal sizes must also agree in name.
 */
export function broadcastDims(a: readonly Dim[], b: readonly Dim[]): Dim[] | null {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i],
      db = b[b.length - n + i];
    if (!da) out.push(db!);
    else if (!db) out.push(da);
    else if (dimsAgree(da, db)) out.push(da.name === "_" ? db : da);
    else if (da.size === 1) out.push(db);
    else if (db.size === 1) out.push(da);
    else return null;
  }
  return out;
}

/** `[n=8, d=64]`: how shapes appear in messages and printed graphs. */
export const showShape = (s: Shape): string =>
  `[${s.map((d) => (d.name === "_" ? `${d.size}` : `${d.name}=${d.size}`)).join(", ")}]`;
