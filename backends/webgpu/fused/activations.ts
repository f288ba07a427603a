import type { ChainAct } from "../../../ir/fusedKinds.ts";

/**
 * The chain activations and their derivatives in WGSL, in the same forms as the native addon
 * (backends/native/src/vmath.h): a sigmoid that never overflows exp, gelu (tanh form) as x·σ(2u),
 * relu' = [x > 0]. Same formulas, so fused and unfused agree to float32 rounding, not just in limit.
 */
const SIGMOID = `
fn sigmoid_(x : f32) -> f32 {
  let e = exp(-abs(x));
  let inv = 1.0 / (1.0 + e);
  return select(e * inv, inv, x >= 0.0);
}`;

const GELU_U = `
const GELU_C : f32 = 0.7978845608028654;
const GELU_A : f32 = 0.044715;
fn geluSig_(x : f32) -> f32 { return sigmoid_(2.0 * GELU_C * (x + GELU_A * x * x * x)); }`;

const BODY: Record<ChainAct, { act: string; dact: string; needs: string }> = {
  identity: { act: "return x;", dact: "return 1.0;", needs: "" },
  silu: {
    act: "return x * sigmoid_(x);",
    dact: "let s = sigmoid_(x);\n  return s * (1.0 + x * (1.0 - s));",
    needs: SIGMOID,
  },
  gelu: {
    act: "return x * geluSig_(x);",
    dact: "let s = geluSig_(x);\n  return s + 2.0 * x * s * (1.0 - s) * GELU_C * (1.0 + 3.0 * GELU_A * x * x);",
    needs: SIGMOID + GELU_U,
  },
  relu: { act: "return max(x, 0.0);", dact: "return select(0.0, 1.0, x > 0.0);", needs: "" },
};

/** WGSL defining `act_(x)` and `dact_(x)` for one activation. */
export function activationWgsl(act: ChainAct): string {
  const b = BODY[act];
  return `${b.needs}
fn act_(x : f32) -> f32 {
  ${b.act}
}
fn dact_(x : f32) -> f32 {
  ${b.dact}
}`;
}
