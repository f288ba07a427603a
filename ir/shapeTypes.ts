import type { Dim, Shape } from "./dim.ts";

/**
 * Type-level shape rules. A failing rule yields a `ShapeError<"...">` that reads like the run-time
 * message, instead of a wall of unresolved generics.
 */
export interface ShapeError<M extends string> {
  readonly __shapeError: M;
}

type NameOf<D> = D extends Dim<infer N> ? N : "?";
type Join<T extends readonly unknown[]> = T extends readonly [infer H]
  ? NameOf<H>
  : T extends readonly [infer H, ...infer Rest]
    ? `${NameOf<H>}, ${Join<Rest>}`
    : "";
/** `[n, d]` */
export type ShowShape<S extends Shape> = `[${Join<S>}]`;

/** Two dims agree unless both names are known and differ (a `Dim<string>` agrees with any). */
export type DimsAgree<A, B> = [A] extends [B] ? true : [B] extends [A] ? true : false;

type SameBatch<A extends Shape, B extends Shape> = A extends readonly []
  ? B extends readonly []
    ? true
    : false
  : A extends readonly [infer HA, ...infer RA extends Shape]
    ? B extends readonly [infer HB, ...infer RB extends Shape]
      ? DimsAgree<HA, HB> extends true
        ? SameBatch<RA, RB>
        : false
      : false
    : false;

export type MatmulShape<X extends Shape, Y extends Shape> = X extends readonly [
  ...infer B extends Shape,
  infer M,
  infer K,
]
  ? Y extends readonly [infer K2, infer N]
    ? DimsAgree<K, K2> extends true
      ? readonly [...B, M, N]
      : never
    : Y extends readonly [...infer BY extends Shape, infer K2, infer N]
      ? DimsAgree<K, K2> extends true
        ? SameBatch<B, BY> extends true
          ? readonly [...B, M, N]
          : never
        : never
      : never
  : never;

/** `unknown` when `x @ y` is well-shaped, else the error that explains why not. */
export type MatmulCheck<X extends Shape, Y extends Shape> = [MatmulShape<X, Y>] extends [never]
  ? ShapeError<`Cannot multiply ${ShowShape<X>} by ${ShowShape<Y>}`>
  : unknown;

/** Every trailing part of S (S itself down to []): the shapes that broadcast against S. */
export type Suffixes<S extends Shape> = S extends readonly [unknown, ...infer Rest extends Shape]
  ? S | Suffixes<readonly [...Rest]>
  : S;

export type DropLast<S extends Shape> = S extends readonly [...infer Head extends Shape, unknown]
  ? readonly [...Head]
  : Shape;
export type Last<S extends Shape> = S extends readonly [...Shape, infer L extends Dim] ? L : Dim;
export type SwapLast<S extends Shape> = S extends readonly [...infer B extends Shape, infer M, infer N]
  ? readonly [...B, N, M]
  : Shape;
export type Permute<S extends Shape, P extends readonly number[]> = {
  readonly [K in keyof P]: P[K] extends number ? S[P[K]] : never;
};
