// Elementwise kernels: unary ops (vectorized exp-based activations from vmath.h), binary ops with
// broadcasting (strides of 0), broadcastTo and fill.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "strided.h"
#include "vmath.h"

namespace rankfuse {
namespace {

void unarySerial(int op, const float* x, float* out, int64_t n) {
  switch (op) {
    case kNeg:
      for (int64_t i = 0; i < n; ++i) out[i] = -x[i];
      return;
    case kExp: return vm::map(x, out, n, [](vm::vf v) { return vm::exp(v); });
    case kLog:
      for (int64_t i = 0; i < n; ++i) out[i] = std::log(x[i]);
      return;
    case kSqrt:
      for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(x[i]);
      return;
    case kTanh: return vm::map(x, out, n, [](vm::vf v) { return vm::tanh(v); });
    case kSigmoid: return vm::map(x, out, n, [](vm::vf v) { return vm::sigmoid(v); });
    case kSilu: return vm::map(x, out, n, [](vm::vf v) { return vm::silu(v); });
    case kGelu: return vm::map(x, out, n, [](vm::vf v) { return vm::gelu(v); });
    case kRelu:
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case kDsilu: return vm::map(x, out, n, [](vm::vf v) { return vm::dsilu(v); });
    case kDgelu: return vm::map(x, out, n, [](vm::vf v) { return vm::dgelu(v); });
    case kDrelu:
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? 1.0f : 0.0f;
      return;
    default: return;
  }
}

template <int OP>
inline float apply(float a, float b) {
  if constexpr (OP == kAdd) return a + b;
  if constexpr (OP == kSub) return a - b;
  if constexpr (OP == kMul) return a * b;
  if constexpr (OP == kDiv) return a / b;
  if constexpr (OP == kMaximum) return a != a ? a : (a > b ? a : b);  // NaN propagates, like Math.max
  if constexpr (OP == kEqual) return a == b ? 1.0f : 0.0f;
  return 0.0f;
}

// One row: separate loops for the stride patterns that matter, so each one vectorizes.
template <int OP>
void binaryRow(const float* x, int64_t sx, const float* y, int64_t sy, float* o, int64_t n) {
  if (sx == 1 && sy == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(x[i], y[i]);
  } else if (sx == 1 && sy == 0) {
    const float b = *y;
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(x[i], b);
  } else if (sx == 0 && sy == 1) {
    const float a = *x;
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(a, y[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(x[i * sx], y[i * sy]);
  }
}

template <int OP>
void binaryOp(const float* x, const float* y, float* out, const Strided& L) {
  const int last = L.rank - 1;
  const int64_t sx = L.st[0][last], sy = L.st[1][last];
  forRows(L, [&](int64_t ox, int64_t oy, int64_t oo, int64_t n) { binaryRow<OP>(x + ox, sx, y + oy, sy, out + oo, n); });
}

}  // namespace

void unary(int op, const float* x, float* out, int64_t n) {
  parallelChunks(n, [&](int64_t b, int64_t e) { unarySerial(op, x + b, out + b, e - b); });
}

void unaryBlock(int op, float* x, int64_t n) { unarySerial(op, x, x, n); }

void binary(int op, const float* x, const float* y, float* out, int rank, const int64_t* shape, const int64_t* xs,
            const int64_t* ys) {
  const Strided L = coalesce(rank, shape, xs, ys);
  switch (op) {
    case kAdd: return binaryOp<kAdd>(x, y, out, L);
    case kSub: return binaryOp<kSub>(x, y, out, L);
    case kMul: return binaryOp<kMul>(x, y, out, L);
    case kDiv: return binaryOp<kDiv>(x, y, out, L);
    case kMaximum: return binaryOp<kMaximum>(x, y, out, L);
    case kEqual: return binaryOp<kEqual>(x, y, out, L);
    default: return;
  }
}

void broadcastTo(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int64_t* xs) {
  const Strided L = coalesce(rank, shape, xs, nullptr);
  const int64_t s = L.st[0][L.rank - 1];
  forRows(L, [&](int64_t ox, int64_t, int64_t oo, int64_t n) {
    const uint32_t* src = x + ox;
    uint32_t* dst = out + oo;
    if (s == 1) {
      std::memcpy(dst, src, sizeof(uint32_t) * n);
    } else if (s == 0) {
      const uint32_t v = *src;
      for (int64_t i = 0; i < n; ++i) dst[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
    }
  });
}

void fill(float* out, int64_t n, float value) {
  parallelChunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = value;
  });
}

}  // namespace rankfuse
