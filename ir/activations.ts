/**
 * Scalar definitions of the activations and their derivatives: the float64 ground truth that every
 * backend's kernels are tested against. GELU is the tanh approximation (GPT-2's), whose derivatives
 * are closed-form.
 */
export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
export const silu = (x: number): number => x * sigmoid(x);
export const dsilu = (x: number): number => {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
};
export const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
export const dgelu = (x: number): number => {
  const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
};
export const relu = (x: number): number => (x > 0 ? x : 0);
export const drelu = (x: number): number => (x > 0 ? 1 : 0);
