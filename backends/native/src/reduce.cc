// Reductions (sum, max, mean) over any set of axes of a contiguous tensor. Axes of size 1 are dropped
// and neighbours with the same reduced/kept status merged, so the usual cases become [rows, width]
// reduced along width (row sums) or along rows (column sums, as in gradient reductions). Sums
// accumulate in double. Parallel over the outermost axis: split across threads when kept (disjoint
// outputs), or into per-thread partial results combined at the end when reduced.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "strided.h"

namespace rankfuse {
namespace {

struct Plan {
  int rank = 0;
  int64_t n[kMaxRank];
  bool red[kMaxRank];
  int64_t xs[kMaxRank];  // input strides
  int64_t os[kMaxRank];  // output strides (0 on reduced axes)
};

inline double maxOf(double acc, double v) { return (v != v || v > acc) ? v : acc; }

template <bool MAX>
void accumulate(const Plan& P, int level, const float* x, double* acc) {
  const int64_t n = P.n[level];
  if (level == P.rank - 1) {
    if (P.red[level]) {
      if (MAX) {
        double m = *acc;
        for (int64_t i = 0; i < n; ++i) m = maxOf(m, x[i]);
        *acc = m;
      } else {
        double lanes[8] = {};
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
          for (int l = 0; l < 8; ++l) lanes[l] += x[i + l];
        double s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        for (; i < n; ++i) s += x[i];
        *acc += s;
      }
    } else if (MAX) {
      for (int64_t i = 0; i < n; ++i) acc[i] = maxOf(acc[i], x[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) accumulate<MAX>(P, level + 1, x + i * P.xs[level], acc + i * P.os[level]);
}

// Accumulates axis-0 indices [i0, i1) of x into acc (output-shaped, or the slice for i0 when kept).
void accumulateRange(const Plan& P, bool isMax, const float* x, double* acc, int64_t i0, int64_t i1) {
  if (P.rank == 1) {  // one axis: the range itself is the innermost loop
    Plan one = P;
    one.n[0] = i1 - i0;
    isMax ? accumulate<true>(one, 0, x + i0, acc) : accumulate<false>(one, 0, x + i0, acc);
    return;
  }
  for (int64_t i = i0; i < i1; ++i) {
    const float* xi = x + i * P.xs[0];
    double* ai = acc + (P.red[0] ? 0 : (i - i0) * P.os[0]);
    isMax ? accumulate<true>(P, 1, xi, ai) : accumulate<false>(P, 1, xi, ai);
  }
}

}  // namespace

void reduce(int op, const float* x, float* out, int rank, const int64_t* shape, const int32_t* mask) {
  Plan P;
  int64_t total = 1, outSize = 1, count = 1;
  for (int a = 0; a < rank; ++a) {
    total *= shape[a];
    if (mask[a]) count *= shape[a];
    else outSize *= shape[a];
  }
  if (outSize == 0) return;
  const bool isMax = op == kMax;
  const double init = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
  auto finish = [&](double v) { return static_cast<float>(op == kMean ? v / static_cast<double>(count) : v); };
  if (total == 0) {
    for (int64_t i = 0; i < outSize; ++i) out[i] = finish(init);
    return;
  }
  for (int a = 0; a < rank; ++a) {
    if (shape[a] == 1) continue;
    const bool r = mask[a] != 0;
    if (P.rank > 0 && P.red[P.rank - 1] == r) {
      P.n[P.rank - 1] *= shape[a];
    } else {
      P.n[P.rank] = shape[a];
      P.red[P.rank] = r;
      ++P.rank;
    }
  }
  if (P.rank == 0) {  // a single element
    out[0] = finish(x[0]);
    return;
  }
  int64_t xs = 1, os = 1;
  for (int a = P.rank - 1; a >= 0; --a) {
    P.xs[a] = xs;
    xs *= P.n[a];
    P.os[a] = P.red[a] ? 0 : os;
    if (!P.red[a]) os *= P.n[a];
  }

  const int64_t n0 = P.n[0];
  const int threads = std::min<int64_t>(maxThreads(), n0);
  const bool parallel = threads > 1 && total > kParallelElems;
  if (!P.red[0]) {
    // Kept outer axis: blocks of it go to different threads, each with its own output slice.
    const int64_t slice = P.os[0];
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(n0, 16384 / std::max<int64_t>(1, P.xs[0])));
    const int64_t blocks = (n0 + block - 1) / block;
#pragma omp parallel for schedule(dynamic) if (parallel && blocks > 1)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t i0 = b * block, i1 = std::min(n0, i0 + block);
      std::vector<double> acc(static_cast<size_t>((i1 - i0) * slice), init);
      accumulateRange(P, isMax, x, acc.data(), i0, i1);
      for (size_t k = 0; k < acc.size(); ++k) out[i0 * slice + static_cast<int64_t>(k)] = finish(acc[k]);
    }
    return;
  }
  // Reduced outer axis: per-thread partial outputs over a split of it, then combined in order.
  const int parts = parallel ? threads : 1;
  std::vector<std::vector<double>> partial(parts, std::vector<double>(static_cast<size_t>(outSize), init));
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
  for (int p = 0; p < parts; ++p) {
    const int64_t i0 = n0 * p / parts, i1 = n0 * (p + 1) / parts;
    accumulateRange(P, isMax, x, partial[p].data(), i0, i1);
  }
  for (int64_t k = 0; k < outSize; ++k) {
    double v = partial[0][k];
    for (int p = 1; p < parts; ++p) v = isMax ? maxOf(v, partial[p][k]) : v + partial[p][k];
    out[k] = finish(v);
  }
}

}  // namespace rankfuse
