import type { Dim, Shape } from "./dim.ts";

/**
 * Type-level shape rules, the twins of dsl/rules/shapeRules.ts. A failing rule yields a `ShapeError<"...">`
 * that reads like the run-time message, instead of a wall of unresolved generics.
 *
 * The types see dim names, not sizes: `Dim<"_">` (an anonymous axis, `anon`) and `Dim<string>` (a name the
 * types do not know) agree with any dim, and a shape that is not a fixed tuple (`Shape`) is checked at
 * trace time only. Where names decide, the types accept exactly what the run-time rules accept, with the
 * same result shape; sizes (and size-1 axes that stretch) are checked at trace time.
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

/** False for a shape whose rank the types do not know (`Shape`, or a tuple with a rest element). */
type Known<S extends Shape> = number extends S["length"] ? false : true;

/**
 * Two dims agree unless both names are known and differ: `Dim<"_">` and `Dim<string>` agree with any
 * (run time: `dimsAgree`, where `_` matches any name of the same size).
 */
export type DimsAgree<A, B> = [A] extends [Dim<"_">]
  ? true
  : [B] extends [Dim<"_">]
    ? true
    : [A] extends [B]
      ? true
      : [B] extends [A]
        ? true
        : false;

/** Of two agreeing dims, the one that names the axis (run time: the one that is not `_`). */
type Unify<A, B> = [A] extends [Dim<"_">] ? B : string extends NameOf<A> ? B : A;

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

/**
 * `x @ y`: [..., M, K] by a shared [K, N] or by [..., K, N] with the same batch dims; never when they do
 * not fit; `Shape` when either rank is unknown.
 */
export type MatmulShape<X extends Shape, Y extends Shape> =
  Known<X> extends false
    ? Shape
    : Known<Y> extends false
      ? Shape
      : X extends readonly [...infer B extends Shape, infer M, infer K]
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

/**
 * `unknown` when `x @ y` is well-shaped, else the error that explains why not. (The `infer` keeps the check
 * deferred, so nothing passes it, while a shape is still generic: such calls must match an inferring overload.)
 */
export type MatmulCheck<X extends Shape, Y extends Shape> =
  MatmulShape<X, Y> extends infer R
    ? [R] extends [never]
      ? ShapeError<`Cannot multiply ${ShowShape<X>} by ${ShowShape<Y>}`>
      : unknown
    : never;

/**
 * numpy's broadcast of two shapes, aligned right (run time: `broadcastDims`): the longer shape's leading
 * axes, then one axis per pair of agreeing dims; never when two dims disagree; `Shape` when a rank is unknown.
 */
export type BroadcastShape<X extends Shape, Y extends Shape> =
  Known<X> extends false
    ? Shape
    : Known<Y> extends false
      ? Shape
      : X extends readonly [...infer XL extends Shape, infer A]
        ? Y extends readonly [...infer YL extends Shape, infer B]
          ? DimsAgree<A, B> extends true
            ? readonly [...BroadcastShape<XL, YL>, Unify<A, B>]
            : never
          : X
        : Y;

/** `unknown` when x and y broadcast, else the error that explains why not (deferred like MatmulCheck). */
export type BroadcastCheck<X extends Shape, Y extends Shape> =
  BroadcastShape<X, Y> extends infer R
    ? [R] extends [never]
      ? ShapeError<`Shapes ${ShowShape<X>} and ${ShowShape<Y>} do not broadcast`>
      : unknown
    : never;

/**
 * `unknown` for `Shape`, a shape the types do not know (checked at trace time only), else ShapeError<M>:
 * the guard of an op's fallback overload, so that a typed operand that fits no typed overload is an error.
 */
export type IfUntyped<S extends Shape, M extends string> = Shape extends S ? unknown : ShapeError<M>;

/** S without its last axis (a reduction over `-1`). */
export type DropLast<S extends Shape> = S extends readonly [...infer Head extends Shape, unknown]
  ? readonly [...Head]
  : Shape;
/** S's last axis (`Dim` when the rank is unknown). */
export type Last<S extends Shape> = S extends readonly [...Shape, infer L extends Dim] ? L : Dim;
/** S with its last two axes swapped (`mT`). */
export type SwapLast<S extends Shape> = S extends readonly [...infer B extends Shape, infer M, infer N]
  ? readonly [...B, N, M]
  : Shape;
/** S's axes in the order `P` (`transpose`): output axis k is input axis P[k]. */
export type Permute<S extends Shape, P extends readonly number[]> = {
  readonly [K in keyof P]: P[K] extends number ? S[P[K]] : never;
};
