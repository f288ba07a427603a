// Strided iteration for elementwise kernels whose output is contiguous: axes of size 1 are dropped
// and neighbouring axes that are contiguous in every input are merged, so that broadcasting
// patterns reduce to a few rows with a fixed inner stride (1 = contiguous, 0 = broadcast). Rows are
// then processed in parallel chunks.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels.h"

namespace rankfuse {

constexpr int kMaxRank = 16;

struct Strided {
  int rank = 0;
  int nin = 1;
  int64_t shape[kMaxRank];
  int64_t st[2][kMaxRank];
};

// s1 may be null (one input).
inline Strided coalesce(int rank, const int64_t* shape, const int64_t* s0, const int64_t* s1) {
  Strided L;
  L.nin = s1 ? 2 : 1;
  const int64_t* s[2] = {s0, s1};
  for (int a = 0; a < rank; ++a) {
    if (shape[a] == 1) continue;
    const int last = L.rank - 1;
    bool merge = last >= 0;
    for (int q = 0; q < L.nin && merge; ++q) merge = L.st[q][last] == s[q][a] * shape[a];
    if (merge) {
      L.shape[last] *= shape[a];
      for (int q = 0; q < L.nin; ++q) L.st[q][last] = s[q][a];
    } else {
      L.shape[L.rank] = shape[a];
      for (int q = 0; q < L.nin; ++q) L.st[q][L.rank] = s[q][a];
      ++L.rank;
    }
  }
  if (L.rank == 0) {
    L.rank = 1;
    L.shape[0] = 1;
    L.st[0][0] = L.st[1][0] = 0;
  }
  return L;
}

// f(off0, off1, outOffset, inner) for every row (all axes but the last) of the output.
template <class F>
void forRows(const Strided& L, F f) {
  const int R = L.rank;
  const int64_t inner = L.shape[R - 1];
  int64_t rows = 1;
  for (int a = 0; a < R - 1; ++a) rows *= L.shape[a];
  if (rows == 0 || inner == 0) return;
  const int64_t chunkRows = std::max<int64_t>(1, 16384 / inner);
  const int64_t chunks = (rows + chunkRows - 1) / chunkRows;
#pragma omp parallel for schedule(dynamic) if (rows * inner > kParallelElems && chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * chunkRows, r1 = std::min(rows, r0 + chunkRows);
    int64_t idx[kMaxRank];
    int64_t off[2] = {0, 0};
    int64_t rem = r0;
    for (int a = R - 2; a >= 0; --a) {
      idx[a] = rem % L.shape[a];
      rem /= L.shape[a];
      for (int q = 0; q < L.nin; ++q) off[q] += idx[a] * L.st[q][a];
    }
    for (int64_t r = r0; r < r1; ++r) {
      f(off[0], off[1], r * inner, inner);
      for (int a = R - 2; a >= 0; --a) {
        ++idx[a];
        for (int q = 0; q < L.nin; ++q) off[q] += L.st[q][a];
        if (idx[a] < L.shape[a]) break;
        for (int q = 0; q < L.nin; ++q) off[q] -= L.st[q][a] * L.shape[a];
        idx[a] = 0;
      }
    }
  }
}

// f(begin, end) over [0, n) in chunks (multiples of 64 elements), in parallel for large n.
template <class F>
void parallelChunks(int64_t n, F f) {
  constexpr int64_t kChunk = 16384;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(dynamic) if (n > kParallelElems && chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(n, (c + 1) * kChunk));
}

}  // namespace rankfuse
