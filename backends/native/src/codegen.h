// Helpers for generated elementwise kernels (backends/native/codegen): each kernel is one loop over
// its output shape that reads every input through broadcast strides, 16 lanes at a time, and applies
// the same vmath.h functions and the same scalar expressions as the prebuilt kernels (elementwise.cc).
// keep() hides each op's result from the optimizer, so no multiply-add is contracted across two ops
// (the prebuilt kernels round every op's result to float in memory): a fused group gives bit for bit
// the values of its ops run one by one.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels.h"
#include "vmath.h"

namespace rankfuse {
namespace gen {

using vm::kLanes;
using vm::vf;

constexpr int kGenMaxRank = 16;

inline vf keep(vf v) {
#if defined(__AVX512F__)
  __asm__("" : "+v"(v));
#else
  __asm__("" : "+m"(v));
#endif
  return v;
}

// n (1..kLanes) lanes of an input with stride s from p (0: one value broadcast, 1: contiguous).
inline vf ld(const float* p, int64_t s, int64_t n) {
  if (s == 1) return n == kLanes ? vm::load(p) : vm::loadPartial(p, n, 0.0f);
  if (s == 0) return vm::splat(*p);
  alignas(64) float tmp[kLanes] = {};
  for (int64_t l = 0; l < n; ++l) tmp[l] = p[l * s];
  return vm::load(tmp);
}
inline void st(float* p, vf v, int64_t n) {
  if (n == kLanes)
    vm::store(p, v);
  else
    vm::storePartial(p, v, n);
}

// The scalar kernels of elementwise.cc, lane by lane.
inline vf log(vf x) {
  vf r;
  for (int l = 0; l < kLanes; ++l) r[l] = std::log(x[l]);
  return r;
}
inline vf sqrt(vf x) {
  vf r;
  for (int l = 0; l < kLanes; ++l) r[l] = std::sqrt(x[l]);
  return r;
}
inline vf maximum(vf a, vf b) { return a != a ? a : (a > b ? a : b); }
inline vf equal(vf a, vf b) { return a == b ? vm::splat(1.0f) : vm::splat(0.0f); }

// The output shape with K inputs' strides, axes of size 1 dropped and neighbouring axes merged where
// every input is contiguous across them (the output always is).
template <int K>
struct Loop {
  int rank = 0;
  int64_t shape[kGenMaxRank];
  int64_t st[K + 1][kGenMaxRank];
};

// meta: [rank, shape[rank], strides of input 0 [rank], ..., strides of input K-1 [rank]].
template <int K>
Loop<K> coalesceK(const int64_t* meta) {
  Loop<K> L;
  const int rank = static_cast<int>(meta[0]);
  const int64_t* shape = meta + 1;
  for (int a = 0; a < rank; ++a) {
    if (shape[a] == 1) continue;
    const int last = L.rank - 1;
    bool merge = last >= 0;
    for (int q = 0; q < K && merge; ++q) merge = L.st[q][last] == meta[1 + rank * (q + 1) + a] * shape[a];
    if (merge) {
      L.shape[last] *= shape[a];
      for (int q = 0; q < K; ++q) L.st[q][last] = meta[1 + rank * (q + 1) + a];
    } else {
      L.shape[L.rank] = shape[a];
      for (int q = 0; q < K; ++q) L.st[q][L.rank] = meta[1 + rank * (q + 1) + a];
      ++L.rank;
    }
  }
  if (L.rank == 0) {
    L.rank = 1;
    L.shape[0] = 1;
    for (int q = 0; q < K; ++q) L.st[q][0] = 0;
  }
  return L;
}

// f(off, s, o, b, e): elements b to e of the row whose inputs start at off[q] (inner stride s[q]) and
// whose output starts at o, over blocks of at most kBlock elements, in parallel when the output is large.
template <int K, class F>
void forBlocks(const int64_t* meta, F f) {
  const Loop<K> L = coalesceK<K>(meta);
  constexpr int64_t kBlock = 16384;
  const int R = L.rank;
  const int64_t inner = L.shape[R - 1];
  int64_t rows = 1;
  for (int a = 0; a < R - 1; ++a) rows *= L.shape[a];
  if (rows == 0 || inner == 0) return;
  const int64_t perRow = inner >= kBlock ? (inner + kBlock - 1) / kBlock : 1;
  const int64_t rowsPer = inner >= kBlock ? 1 : std::max<int64_t>(1, kBlock / inner);
  const int64_t tasks = inner >= kBlock ? rows * perRow : (rows + rowsPer - 1) / rowsPer;
  int64_t s[K + 1] = {};
  for (int q = 0; q < K; ++q) s[q] = L.st[q][R - 1];
#pragma omp parallel for schedule(dynamic) if (rows * inner > kParallelElems && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r0 = inner >= kBlock ? t / perRow : t * rowsPer;
    const int64_t r1 = inner >= kBlock ? r0 + 1 : std::min(rows, r0 + rowsPer);
    const int64_t b = inner >= kBlock ? (t % perRow) * kBlock : 0;
    const int64_t e = inner >= kBlock ? std::min(inner, b + kBlock) : inner;
    int64_t off[K + 1] = {};
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r;
      for (int q = 0; q < K; ++q) off[q] = 0;
      for (int a = R - 2; a >= 0; --a) {
        const int64_t i = rem % L.shape[a];
        rem /= L.shape[a];
        for (int q = 0; q < K; ++q) off[q] += i * L.st[q][a];
      }
      f(off, s, r * inner, b, e);
    }
  }
}

}  // namespace gen
}  // namespace rankfuse
