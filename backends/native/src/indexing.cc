// Index kernels: embedding gather, its adjoint scatterAdd, and oneHot. Ids are validated up front
// (the caller throws RangeError naming the first bad one) so no kernel ever reads out of bounds.
#include <algorithm>
#include <cstring>

#include "kernels.h"

namespace rankfuse {
namespace {

int64_t firstBadId(const int32_t* ids, int64_t n, int64_t V) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= V) return i;
  return -1;
}

}  // namespace

int64_t gather(const float* table, const int32_t* ids, float* out, int64_t n, int64_t V, int64_t D) {
  const int64_t bad = firstBadId(ids, n, V);
  if (bad >= 0) return bad;
#pragma omp parallel for schedule(static) if (n * D > kParallelElems)
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * D, table + static_cast<int64_t>(ids[i]) * D, sizeof(float) * D);
  return -1;
}

// out[ids[i], :] += values[i, :]. Rows may repeat, so threads split the columns rather than the
// rows: every output element is summed by one thread, in the order of i (deterministic).
int64_t scatterAdd(const float* values, const int32_t* ids, float* out, int64_t n, int64_t V, int64_t D) {
  const int64_t bad = firstBadId(ids, n, V);
  if (bad >= 0) return bad;
  const int threads = maxThreads();
  const int64_t parts = (n * D > kParallelElems && D >= 32 * threads) ? threads : 1;
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(parts)) if (parts > 1)
  for (int64_t p = 0; p < parts; ++p) {
    // Column ranges aligned to 16 floats so threads never share a cache line.
    const int64_t j0 = std::min(D, (D * p / parts) / 16 * 16), j1 = p + 1 == parts ? D : std::min(D, (D * (p + 1) / parts) / 16 * 16);
    for (int64_t i = 0; i < n; ++i) {
      float* o = out + static_cast<int64_t>(ids[i]) * D;
      const float* v = values + i * D;
      for (int64_t j = j0; j < j1; ++j) o[j] += v[j];
    }
  }
  return -1;
}

void oneHot(const int32_t* ids, float* out, int64_t n, int64_t depth) {
  fill(out, n * depth, 0.0f);
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] >= 0 && ids[i] < depth) out[i * depth + ids[i]] = 1.0f;
}

}  // namespace rankfuse
