/**
 * What backends/native/build.ts is in the browser bundle: the native engine is a Node addon, so in a
 * page it is simply "not loaded", and code that prefers it (Fira's host GEMM, the optimizer loop)
 * takes its JavaScript path. build.ts swaps this file in for the real one.
 */
import * as E from "fp-ts/lib/Either.js";
import type { loadNativeAddon as LoadNative, nativeAddonPath as NativePath } from "../backends/native/build.ts";

const NOT_HERE = "the native engine is a Node addon and does not run in a browser";

export const loadNativeAddon: typeof LoadNative = () => E.left(NOT_HERE);
export const nativeAddonPath: typeof NativePath = () => E.left(NOT_HERE);
