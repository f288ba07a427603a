// Vectorized float32 math on 16-lane GCC vector types (lowered to zmm, ymm pairs or scalar code,
// whatever the build target has): exp with ~1 ulp error over the whole float range, tanh, sigmoid,
// and the activations and derivatives of reference/activations.ts written in numerically stable
// forms (gelu and its derivative via sigmoid(2u) = (1 + tanh u) / 2, which avoids 1 + t cancelling).
#pragma once
#include <cstdint>
#include <cstring>

namespace rankfuse {
namespace vm {

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
constexpr int kLanes = 16;

inline vf splat(float v) { return vf{} + v; }
inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
inline vf loadPartial(const float* p, int64_t n, float pad) {
  alignas(64) float tmp[kLanes];
  for (int i = 0; i < kLanes; ++i) tmp[i] = i < n ? p[i] : pad;
  return load(tmp);
}
inline void storePartial(float* p, vf v, int64_t n) {
  alignas(64) float tmp[kLanes];
  store(tmp, v);
  for (int64_t i = 0; i < n; ++i) p[i] = tmp[i];
}
inline vf select(vi mask, vf a, vf b) { return mask ? a : b; }
inline vf abs(vf x) { return reinterpret_cast<vf>(reinterpret_cast<vi>(x) & 0x7fffffff); }
inline vf copySign(vf mag, vf sign) {
  return reinterpret_cast<vf>((reinterpret_cast<vi>(mag) & 0x7fffffff) |
                              (reinterpret_cast<vi>(sign) & static_cast<int32_t>(0x80000000u)));
}
inline vf vmax(vf a, vf b) { return a > b ? a : b; }

// exp: n = round(x / ln 2), r = x - n ln 2 (Cody-Waite, two parts), e^r by the Cephes degree-6
// polynomial, then scaled by 2^n in two steps so that results down to the denormals are right.
inline vf exp(vf x) {
  vf xc = x > 88.8f ? splat(88.8f) : x;  // NaN passes through both clamps
  xc = xc < -104.0f ? splat(-104.0f) : xc;
  const vf shifter = splat(12582912.0f);                             // 1.5 * 2^23: round to nearest
  const vf n = (xc * 1.44269504088896341f + shifter) - shifter;
  const vf r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const vf y = p * (r * r) + r + 1.0f;
  const vi ni = __builtin_convertvector(n, vi);
  const vi n1 = ni >> 1, n2 = ni - n1;
  const vf s1 = reinterpret_cast<vf>((n1 + 127) << 23), s2 = reinterpret_cast<vf>((n2 + 127) << 23);
  vf out = y * s1 * s2;
  out = x > 88.72283905f ? splat(__builtin_inff()) : out;
  return out;
}

// tanh: odd Taylor polynomial for |x| < 0.55 (relative error < 1e-8 there), 1 - 2 / (e^{2|x|} + 1)
// above, where tanh >= 0.5 so the subtraction loses nothing.
inline vf tanh(vf x) {
  const vf ax = abs(x), x2 = x * x;
  vf p = splat(18888466084.0f / 194896477400625.0f);
  p = p * x2 + (-443861162.0f / 1856156927625.0f);
  p = p * x2 + (6404582.0f / 10854718875.0f);
  p = p * x2 + (-929569.0f / 638512875.0f);
  p = p * x2 + (21844.0f / 6081075.0f);
  p = p * x2 + (-1382.0f / 155925.0f);
  p = p * x2 + (62.0f / 2835.0f);
  p = p * x2 + (-17.0f / 315.0f);
  p = p * x2 + (2.0f / 15.0f);
  p = p * x2 + (-1.0f / 3.0f);
  const vf small = x + x * x2 * p;
  const vf big = 1.0f - 2.0f / (exp(ax + ax) + 1.0f);
  return ax < 0.55f ? small : copySign(big, x);
}

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: never overflows.
inline vf sigmoid(vf x) {
  const vf e = exp(-abs(x));
  const vf inv = 1.0f / (1.0f + e);
  return x >= 0.0f ? inv : e * inv;
}

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluA = 0.044715f;

inline vf silu(vf x) { return x * sigmoid(x); }
inline vf dsilu(vf x) {
  const vf s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}
// gelu = 0.5 x (1 + tanh u) = x sigmoid(2u), u = c (x + a x^3).
inline vf gelu(vf x) { return x * sigmoid(2.0f * kGeluC * (x + kGeluA * x * x * x)); }
// dgelu = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2) = s + 2 x s (1 - s) c (1 + 3 a x^2).
inline vf dgelu(vf x) {
  const vf s = sigmoid(2.0f * kGeluC * (x + kGeluA * x * x * x));
  return s + 2.0f * x * s * (1.0f - s) * kGeluC * (1.0f + 3.0f * kGeluA * x * x);
}
inline vf relu(vf x) { return x > 0.0f ? x : splat(0.0f); }
inline vf drelu(vf x) { return x > 0.0f ? splat(1.0f) : splat(0.0f); }

// out[i] = f(x[i]) for i < n, 16 lanes at a time (the tail through a padded vector).
template <class F>
inline void map(const float* x, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(out + i, f(load(x + i)));
  if (i < n) storePartial(out + i, f(loadPartial(x + i, n - i, 0.0f)), n - i);
}

}  // namespace vm
}  // namespace rankfuse
