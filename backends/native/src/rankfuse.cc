// N-API entry points of the rankfuse native engine. Each one decodes and checks its arguments
// (TypeError for wrong types/counts, RangeError for buffers too small for the sizes given or for
// out-of-range ids) and then calls a float32 kernel from kernels.h that writes into the caller's
// preallocated output. The TypeScript side is backends/native/build.ts (interface NativeAddon).
#include <node_api.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <string>

#include "kernels.h"
#include "napi_args.h"
#include "strided.h"

using namespace rankfuse;

namespace {

constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max();

// Product of sizes, saturating instead of overflowing (so an absurd size fails the length check).
uint64_t prod(std::initializer_list<int64_t> xs) {
  uint64_t p = 1;
  for (int64_t x : xs)
    if (__builtin_mul_overflow(p, static_cast<uint64_t>(x), &p)) return kHuge;
  return p;
}

// Runs a kernel, turning a C++ exception (allocation failure) into a JS Error. Kernels run with
// denormals flushed to zero (FTZ/DAZ): tiny gradients late in training are otherwise subnormal, and
// subnormal arithmetic is ~100x slower on x86 (a full-rank run lost half its speed by step 200).
// OpenMP's worker threads inherit the setting when created; the caller's own mode is restored, so
// JavaScript's arithmetic is untouched. `exact` kernels (the optimizer's loop) keep IEEE subnormals.
template <class F>
napi_value run(napi_env env, F f, bool exact = false) {
#if defined(__SSE__)
  const unsigned saved = _mm_getcsr();
  if (!exact) _mm_setcsr(saved | 0x8040);  // FTZ | DAZ
#endif
  try {
    f();
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, (std::string("rankfuse native: ") + e.what()).c_str());
  }
#if defined(__SSE__)
  _mm_setcsr(saved);
#endif
  return nullptr;
}

// An Int32Array of non-negative shape entries (or strides), at most kMaxRank long, widened.
bool dims(Args& a, size_t i, int64_t* dst, size_t* rank, const char* what) {
  size_t len = 0;
  const int32_t* p = a.i32(i, &len);
  if (!a.ok()) return false;
  if (len > static_cast<size_t>(kMaxRank)) return a.rangeError(std::string(what) + " has rank above 16");
  for (size_t k = 0; k < len; ++k) {
    if (p[k] < 0) return a.rangeError(std::string(what) + " has a negative entry");
    dst[k] = p[k];
  }
  *rank = len;
  return true;
}

// The input read through `strides` over `shape` must stay inside `have` elements.
bool stridedFits(Args& a, size_t arg, size_t have, const int64_t* shape, const int64_t* strides, size_t rank) {
  uint64_t total = 1, maxOff = 0;
  for (size_t k = 0; k < rank; ++k) {
    total = total * static_cast<uint64_t>(shape[k]);
    if (shape[k] > 0) maxOff += static_cast<uint64_t>(shape[k] - 1) * static_cast<uint64_t>(strides[k]);
  }
  return total == 0 || a.need(arg, have, maxOff + 1);
}

napi_value Matmul(napi_env env, napi_callback_info info) {
  Args a(env, info, "matmul", 10);
  size_t la = 0, lb = 0, lc = 0;
  const float* A = a.f32(0, &la);
  const float* B = a.f32(1, &lb);
  float* C = a.f32(2, &lc);
  const int64_t batch = a.size(3), M = a.size(4), K = a.size(5), N = a.size(6);
  const bool shared = a.boolean(7), transA = a.boolean(8), transB = a.boolean(9);
  a.need(0, la, prod({batch, M, K}));
  a.need(1, lb, prod({shared ? 1 : batch, K, N}));
  a.need(2, lc, prod({batch, M, N}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { matmul(A, B, C, batch, M, K, N, shared, transA, transB); });
}

napi_value Unary(napi_env env, napi_callback_info info) {
  Args a(env, info, "unary", 3);
  const int64_t op = a.size(0);
  size_t lx = 0, lo = 0;
  const float* x = a.f32(1, &lx);
  float* out = a.f32(2, &lo);
  a.need(2, lo, lx);
  if (a.ok() && op >= kUnaryCount) a.rangeError("unknown op " + std::to_string(op));
  if (!a.ok()) return nullptr;
  return run(env, [&] { unary(static_cast<int>(op), x, out, static_cast<int64_t>(lx)); });
}

napi_value Binary(napi_env env, napi_callback_info info) {
  Args a(env, info, "binary", 7);
  const int64_t op = a.size(0);
  size_t lx = 0, ly = 0, lo = 0, r0 = 0, r1 = 0, r2 = 0;
  const float* x = a.f32(1, &lx);
  const float* y = a.f32(2, &ly);
  float* out = a.f32(3, &lo);
  int64_t shape[kMaxRank], xs[kMaxRank], ys[kMaxRank];
  dims(a, 4, shape, &r0, "outShape") && dims(a, 5, xs, &r1, "xStrides") && dims(a, 6, ys, &r2, "yStrides");
  if (a.ok() && (r1 != r0 || r2 != r0)) a.rangeError("outShape, xStrides and yStrides differ in length");
  if (a.ok() && op >= kBinaryCount) a.rangeError("unknown op " + std::to_string(op));
  uint64_t total = 1;
  for (size_t k = 0; k < r0 && a.ok(); ++k) total *= static_cast<uint64_t>(shape[k]);
  a.need(3, lo, total) && stridedFits(a, 1, lx, shape, xs, r0) && stridedFits(a, 2, ly, shape, ys, r0);
  if (!a.ok() || total == 0) return nullptr;
  return run(env, [&] { binary(static_cast<int>(op), x, y, out, static_cast<int>(r0), shape, xs, ys); });
}

napi_value Reduce(napi_env env, napi_callback_info info) {
  Args a(env, info, "reduce", 5);
  const int64_t op = a.size(0);
  size_t lx = 0, lo = 0, rank = 0, lm = 0;
  const float* x = a.f32(1, &lx);
  float* out = a.f32(2, &lo);
  int64_t shape[kMaxRank];
  dims(a, 3, shape, &rank, "shape");
  const int32_t* mask = a.i32(4, &lm);
  if (a.ok() && lm != rank) a.rangeError("reduceMask and shape differ in length");
  if (a.ok() && op >= kReduceCount) a.rangeError("unknown op " + std::to_string(op));
  uint64_t total = 1, kept = 1;
  for (size_t k = 0; k < rank && a.ok(); ++k) {
    total *= static_cast<uint64_t>(shape[k]);
    if (!mask[k]) kept *= static_cast<uint64_t>(shape[k]);
  }
  a.need(1, lx, total) && a.need(2, lo, kept);
  if (!a.ok()) return nullptr;
  return run(env, [&] { reduce(static_cast<int>(op), x, out, static_cast<int>(rank), shape, mask); });
}

napi_value Transpose(napi_env env, napi_callback_info info) {
  Args a(env, info, "transpose", 4);
  size_t lx = 0, lo = 0, rank = 0, lp = 0;
  const uint32_t* x = a.words(0, &lx);
  uint32_t* out = a.words(1, &lo);
  int64_t shape[kMaxRank];
  dims(a, 2, shape, &rank, "shape");
  const int32_t* perm = a.i32(3, &lp);
  if (a.ok() && lp != rank) a.rangeError("perm and shape differ in length");
  bool seen[kMaxRank] = {};
  for (size_t k = 0; k < lp && a.ok(); ++k) {
    if (perm[k] < 0 || static_cast<size_t>(perm[k]) >= rank || seen[perm[k]]) a.rangeError("perm is not a permutation");
    else seen[perm[k]] = true;
  }
  uint64_t total = 1;
  for (size_t k = 0; k < rank && a.ok(); ++k) total *= static_cast<uint64_t>(shape[k]);
  a.need(0, lx, total) && a.need(1, lo, total);
  if (!a.ok()) return nullptr;
  return run(env, [&] { transpose(x, out, static_cast<int>(rank), shape, perm); });
}

napi_value BroadcastTo(napi_env env, napi_callback_info info) {
  Args a(env, info, "broadcastTo", 4);
  size_t lx = 0, lo = 0, r0 = 0, r1 = 0;
  const uint32_t* x = a.words(0, &lx);
  uint32_t* out = a.words(1, &lo);
  int64_t shape[kMaxRank], xs[kMaxRank];
  dims(a, 2, shape, &r0, "outShape") && dims(a, 3, xs, &r1, "xStrides");
  if (a.ok() && r1 != r0) a.rangeError("outShape and xStrides differ in length");
  uint64_t total = 1;
  for (size_t k = 0; k < r0 && a.ok(); ++k) total *= static_cast<uint64_t>(shape[k]);
  a.need(1, lo, total) && stridedFits(a, 0, lx, shape, xs, r0);
  if (!a.ok() || total == 0) return nullptr;
  return run(env, [&] { broadcastTo(x, out, static_cast<int>(r0), shape, xs); });
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmax", 5);
  size_t lx = 0, lo = 0;
  const float* x = a.f32(0, &lx);
  float* out = a.f32(1, &lo);
  const int64_t rows = a.size(2), width = a.size(3), causalT = a.size(4);
  a.need(0, lx, prod({rows, width})) && a.need(1, lo, prod({rows, width}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { softmax(x, out, rows, width, causalT); });
}

napi_value LogSoftmax(napi_env env, napi_callback_info info) {
  Args a(env, info, "logSoftmax", 4);
  size_t lx = 0, lo = 0;
  const float* x = a.f32(0, &lx);
  float* out = a.f32(1, &lo);
  const int64_t rows = a.size(2), width = a.size(3);
  a.need(0, lx, prod({rows, width})) && a.need(1, lo, prod({rows, width}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { logSoftmax(x, out, rows, width); });
}

napi_value Rmsnorm(napi_env env, napi_callback_info info) {
  Args a(env, info, "rmsnorm", 6);
  size_t lx = 0, lw = 0, lo = 0;
  const float* x = a.f32(0, &lx);
  const float* w = a.f32(1, &lw);
  float* out = a.f32(2, &lo);
  const int64_t rows = a.size(3), width = a.size(4);
  const double eps = a.number(5);
  a.need(0, lx, prod({rows, width})) && a.need(1, lw, static_cast<uint64_t>(width)) && a.need(2, lo, prod({rows, width}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { rmsnorm(x, w, out, rows, width, static_cast<float>(eps)); });
}

napi_value Rope(napi_env env, napi_callback_info info) {
  Args a(env, info, "rope", 7);
  size_t lx = 0, lo = 0;
  const float* x = a.f32(0, &lx);
  float* out = a.f32(1, &lo);
  const int64_t rows = a.size(2), T = a.size(3), Dh = a.size(4);
  const double base = a.number(5);
  const bool inverse = a.boolean(6);
  if (a.ok() && rows > 0 && T == 0) a.rangeError("T must be positive");
  a.need(0, lx, prod({rows, Dh})) && a.need(1, lo, prod({rows, Dh}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { rope(x, out, rows, T, Dh, base, inverse); });
}

napi_value Gather(napi_env env, napi_callback_info info) {
  Args a(env, info, "gather", 5);
  size_t lt = 0, li = 0, lo = 0;
  const float* table = a.f32(0, &lt);
  const int32_t* ids = a.i32(1, &li);
  float* out = a.f32(2, &lo);
  const int64_t V = a.size(3), D = a.size(4), n = static_cast<int64_t>(li);
  a.need(0, lt, prod({V, D})) && a.need(2, lo, prod({n, D}));
  if (!a.ok()) return nullptr;
  int64_t bad = -1;
  run(env, [&] { bad = gather(table, ids, out, n, V, D); });
  if (bad >= 0)
    a.rangeError("id " + std::to_string(ids[bad]) + " at position " + std::to_string(bad) + " outside [0, " +
                 std::to_string(V) + ")");
  return nullptr;
}

napi_value ScatterAdd(napi_env env, napi_callback_info info) {
  Args a(env, info, "scatterAdd", 5);
  size_t lv = 0, li = 0, lo = 0;
  const float* values = a.f32(0, &lv);
  const int32_t* ids = a.i32(1, &li);
  float* out = a.f32(2, &lo);
  const int64_t V = a.size(3), D = a.size(4), n = static_cast<int64_t>(li);
  a.need(0, lv, prod({n, D})) && a.need(2, lo, prod({V, D}));
  if (!a.ok()) return nullptr;
  int64_t bad = -1;
  run(env, [&] { bad = scatterAdd(values, ids, out, n, V, D); });
  if (bad >= 0)
    a.rangeError("id " + std::to_string(ids[bad]) + " at position " + std::to_string(bad) + " outside [0, " +
                 std::to_string(V) + ")");
  return nullptr;
}

napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  Args a(env, info, "crossEntropy", 5);
  size_t ll = 0, lt = 0, lo = 0;
  const float* logits = a.f32(0, &ll);
  const int32_t* targets = a.i32(1, &lt);
  float* out = a.f32(2, &lo);
  const int64_t rows = a.size(3), V = a.size(4);
  a.need(0, ll, prod({rows, V})) && a.need(1, lt, static_cast<uint64_t>(rows)) && a.need(2, lo, static_cast<uint64_t>(rows));
  if (!a.ok()) return nullptr;
  int64_t bad = -1;
  run(env, [&] { bad = crossEntropy(logits, targets, out, rows, V); });
  if (bad >= 0)
    a.rangeError("target " + std::to_string(targets[bad]) + " at row " + std::to_string(bad) + " outside [0, " +
                 std::to_string(V) + ")");
  return nullptr;
}

napi_value OneHot(napi_env env, napi_callback_info info) {
  Args a(env, info, "oneHot", 3);
  size_t li = 0, lo = 0;
  const int32_t* ids = a.i32(0, &li);
  float* out = a.f32(1, &lo);
  const int64_t depth = a.size(2), n = static_cast<int64_t>(li);
  a.need(1, lo, prod({n, depth}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { oneHot(ids, out, n, depth); });
}

napi_value Fill(napi_env env, napi_callback_info info) {
  Args a(env, info, "fill", 2);
  size_t lo = 0;
  float* out = a.f32(0, &lo);
  const double value = a.number(1);
  if (!a.ok()) return nullptr;
  return run(env, [&] { fill(out, static_cast<int64_t>(lo), static_cast<float>(value)); });
}

napi_value LowrankForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankForward", 9);
  size_t lx = 0, lA = 0, lB = 0, lo = 0;
  const float* x = a.f32(0, &lx);
  const float* A = a.f32(1, &lA);
  const float* B = a.f32(2, &lB);
  float* out = a.f32(3, &lo);
  const int64_t n = a.size(4), dIn = a.size(5), r = a.size(6), dOut = a.size(7), act = a.size(8);
  if (a.ok() && act != 0 && act != kSilu && act != kGelu && act != kRelu)
    a.rangeError("act must be 0 (identity), 6 (silu), 7 (gelu) or 8 (relu), got " + std::to_string(act));
  a.need(0, lx, prod({n, dIn})) && a.need(1, lA, prod({dIn, r})) && a.need(2, lB, prod({r, dOut})) &&
      a.need(3, lo, prod({n, dOut}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { lowrankForward(x, A, B, out, n, dIn, r, dOut, static_cast<int>(act)); });
}

// Fused chains take optional buffers: a zero-length Float32Array means "not wanted" (or "no epilogue").
// Sizes come in one Int32Array: forward [n, dIn, r, dOut, act, epilogue], backward [n, dIn, r, dOut, act].
struct Opt {
  float* p;
  size_t len;
  float* get() const { return len ? p : nullptr; }
};
bool validAct(Args& a, int64_t act) {
  if (act == 0 || act == kSilu || act == kGelu || act == kRelu) return true;
  return a.rangeError("act must be 0 (identity), 6 (silu), 7 (gelu) or 8 (relu), got " + std::to_string(act));
}
bool needOpt(Args& a, size_t i, const Opt& o, uint64_t n) { return o.len == 0 || a.need(i, o.len, n); }

napi_value LowrankForwardEx(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankForwardEx", 8);
  Opt x{}, A{}, B{}, e{}, out{}, z{}, h{};
  size_t ld = 0;
  Opt* bufs[] = {&x, &A, &B, &e, &out, &z, &h};
  for (size_t i = 0; i < 7; ++i) bufs[i]->p = a.f32(i, &bufs[i]->len);
  const int32_t* d = a.i32(7, &ld);
  if (a.ok() && ld < 6) a.rangeError("sizes must be [n, dIn, r, dOut, act, epilogue]");
  if (!a.ok()) return nullptr;
  const int64_t n = d[0], dIn = d[1], r = d[2], dOut = d[3], act = d[4], epi = d[5];
  if (std::min({n, dIn, r, dOut}) < 0) a.rangeError("sizes must be non-negative");
  if (a.ok() && e.len && epi != kAdd && epi != kMul) a.rangeError("epilogue must be 0 (add) or 2 (mul)");
  validAct(a, act) && a.need(0, x.len, prod({n, dIn})) && a.need(1, A.len, prod({dIn, r})) &&
      a.need(2, B.len, prod({r, dOut})) && needOpt(a, 3, e, prod({n, dOut})) && a.need(4, out.len, prod({n, dOut})) &&
      needOpt(a, 5, z, prod({n, r})) && needOpt(a, 6, h, prod({n, r}));
  if (!a.ok()) return nullptr;
  return run(env, [&] {
    lowrankForwardEx(x.p, A.p, B.p, e.get(), e.len ? static_cast<int>(epi) : -1, out.p, z.get(), h.get(), n, dIn, r, dOut,
                     static_cast<int>(act));
  });
}

napi_value LowrankBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankBackward", 12);
  Opt dY{}, B{}, z{}, A{}, acc{}, x{}, h{}, dX{}, dA{}, dB{}, dZ{};
  size_t ld = 0;
  Opt* bufs[] = {&dY, &B, &z, &A, &acc, &x, &h, &dX, &dA, &dB, &dZ};
  for (size_t i = 0; i < 11; ++i) bufs[i]->p = a.f32(i, &bufs[i]->len);
  const int32_t* d = a.i32(11, &ld);
  if (a.ok() && ld < 5) a.rangeError("sizes must be [n, dIn, r, dOut, act]");
  if (!a.ok()) return nullptr;
  const int64_t n = d[0], dIn = d[1], r = d[2], dOut = d[3], act = d[4];
  if (std::min({n, dIn, r, dOut}) < 0) a.rangeError("sizes must be non-negative");
  const uint64_t nr = prod({n, r});
  validAct(a, act) && a.need(0, dY.len, prod({n, dOut})) && a.need(1, B.len, prod({r, dOut})) &&
      (act == 0 || a.need(2, z.len, nr)) && (!dX.len || a.need(3, A.len, prod({dIn, r}))) &&
      needOpt(a, 4, acc, prod({n, dIn})) && (!dA.len || a.need(5, x.len, prod({n, dIn}))) &&
      (!dB.len || a.need(6, h.len, nr)) && needOpt(a, 7, dX, prod({n, dIn})) && needOpt(a, 8, dA, prod({dIn, r})) &&
      needOpt(a, 9, dB, prod({r, dOut})) && needOpt(a, 10, dZ, nr);
  if (!a.ok()) return nullptr;
  return run(env, [&] {
    lowrankBackward(dY.p, B.p, z.get(), A.get(), acc.get(), x.get(), h.get(), dX.get(), dA.get(), dB.get(), dZ.get(), n,
                    dIn, r, dOut, static_cast<int>(act));
  });
}

// Fused causal attention; sizes [bh, T, dk, dv]. An empty P means "not wanted" (forward) or "recompute"
// (backward); an empty dQ, dK or dV is not computed.
napi_value AttentionForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionForward", 6);
  Opt q{}, k{}, v{}, o{}, p{};
  size_t ld = 0;
  Opt* bufs[] = {&q, &k, &v, &o, &p};
  for (size_t i = 0; i < 5; ++i) bufs[i]->p = a.f32(i, &bufs[i]->len);
  const int32_t* d = a.i32(5, &ld);
  if (a.ok() && ld < 4) a.rangeError("sizes must be [bh, T, dk, dv]");
  if (!a.ok()) return nullptr;
  const int64_t bh = d[0], T = d[1], dk = d[2], dv = d[3];
  if (std::min({bh, T, dk, dv}) < 0) a.rangeError("sizes must be non-negative");
  a.need(0, q.len, prod({bh, T, dk})) && a.need(1, k.len, prod({bh, T, dk})) && a.need(2, v.len, prod({bh, T, dv})) &&
      a.need(3, o.len, prod({bh, T, dv})) && needOpt(a, 4, p, prod({bh, T, T}));
  if (!a.ok()) return nullptr;
  return run(env, [&] { attentionForward(q.p, k.p, v.p, o.p, p.get(), bh, T, dk, dv); });
}

napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionBackward", 9);
  Opt q{}, k{}, v{}, dO{}, P{}, dQ{}, dK{}, dV{};
  size_t ld = 0;
  Opt* bufs[] = {&q, &k, &v, &dO, &P, &dQ, &dK, &dV};
  for (size_t i = 0; i < 8; ++i) bufs[i]->p = a.f32(i, &bufs[i]->len);
  const int32_t* d = a.i32(8, &ld);
  if (a.ok() && ld < 4) a.rangeError("sizes must be [bh, T, dk, dv]");
  if (!a.ok()) return nullptr;
  const int64_t bh = d[0], T = d[1], dk = d[2], dv = d[3];
  if (std::min({bh, T, dk, dv}) < 0) a.rangeError("sizes must be non-negative");
  const uint64_t nk = prod({bh, T, dk}), nv = prod({bh, T, dv});
  a.need(0, q.len, nk) && a.need(1, k.len, nk) && a.need(2, v.len, nv) && a.need(3, dO.len, nv) &&
      needOpt(a, 4, P, prod({bh, T, T})) && needOpt(a, 5, dQ, nk) && needOpt(a, 6, dK, nk) && needOpt(a, 7, dV, nv);
  if (!a.ok()) return nullptr;
  return run(env, [&] { attentionBackward(q.p, k.p, v.p, dO.p, P.get(), dQ.get(), dK.get(), dV.get(), bh, T, dk, dv); });
}

napi_value AdamwStep(napi_env env, napi_callback_info info) {
  Args a(env, info, "adamwStep", 10);
  size_t lp = 0, lg = 0, lm = 0, lv = 0;
  float* p = a.f32(0, &lp);
  const float* g = a.f32(1, &lg);
  float* m = a.f32(2, &lm);
  float* v = a.f32(3, &lv);
  const double b1 = a.number(4), b2 = a.number(5), eps = a.number(6), decay = a.number(7), stepSize = a.number(8),
               sqrtBc2 = a.number(9);
  const int64_t n = static_cast<int64_t>(lp);
  a.need(1, lg, n) && a.need(2, lm, n) && a.need(3, lv, n);
  if (!a.ok()) return nullptr;
  return run(env, [&] { adamwStep(p, g, m, v, n, b1, b2, eps, decay, stepSize, sqrtBc2); }, true);
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumSquares", 1);
  size_t lx = 0;
  const float* x = a.f32(0, &lx);
  if (!a.ok()) return nullptr;
  napi_value v;
  napi_create_double(env, sumSquares(x, static_cast<int64_t>(lx)), &v);
  return v;
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, maxThreads(), &v);
  return v;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, "setThreads", 1);
  const int64_t n = a.size(0);
  if (a.ok() && (n < 1 || n > 1024)) a.rangeError("thread count must be in [1, 1024]");
  if (!a.ok()) return nullptr;
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(n));
#endif
  return nullptr;
}

napi_value GemmKernel(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_string_utf8(env, gemmKernelName(), NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value SetGemmKernel(napi_env env, napi_callback_info info) {
  Args a(env, info, "setGemmKernel", 1);
  char name[32] = {};
  size_t len = 0;
  napi_value arg;
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  if (a.ok() && napi_get_value_string_utf8(env, arg, name, sizeof name, &len) != napi_ok)
    a.typeError("argument 0 must be a string");
  if (!a.ok()) return nullptr;
  napi_value v;
  napi_get_boolean(env, setGemmKernel(name), &v);
  return v;
}

}  // namespace

NAPI_MODULE_INIT() {
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {
      {"matmul", Matmul},         {"unary", Unary},
      {"binary", Binary},         {"reduce", Reduce},
      {"transpose", Transpose},   {"broadcastTo", BroadcastTo},
      {"softmax", Softmax},       {"logSoftmax", LogSoftmax},
      {"rmsnorm", Rmsnorm},       {"rope", Rope},
      {"gather", Gather},         {"scatterAdd", ScatterAdd},
      {"crossEntropy", CrossEntropy}, {"oneHot", OneHot},
      {"fill", Fill},             {"lowrankForward", LowrankForward},
      {"lowrankForwardEx", LowrankForwardEx}, {"lowrankBackward", LowrankBackward},
      {"threads", Threads},       {"setThreads", SetThreads},
      {"gemmKernel", GemmKernel}, {"setGemmKernel", SetGemmKernel},
      {"attentionForward", AttentionForward}, {"attentionBackward", AttentionBackward},
      {"adamwStep", AdamwStep},   {"sumSquares", SumSquares},
  };
  for (const auto& f : fns) {
    napi_value v;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v) != napi_ok ||
        napi_set_named_property(env, exports, f.name, v) != napi_ok)
      return nullptr;
  }
  return exports;
}
