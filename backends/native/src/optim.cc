// Host-side optimizer loops (AdamW, gradient norms) over millions of parameters per step. The math is
// the JavaScript optimizer's, in double precision on float32 storage, so results are bit-identical
// to it: only the loop moves into compiled code.
// No FMA contraction here: a fused multiply-add rounds once where JavaScript rounds twice.
#pragma GCC optimize("fp-contract=off")
#include <cmath>
#include <cstdint>

#include "kernels.h"

namespace rankfuse {

void adamwStep(float* p, const float* g, float* m, float* v, int64_t n, double b1, double b2, double eps, double decay,
               double stepSize, double sqrtBc2) {
  // on the calling thread only: the worker threads flush subnormals, which this loop must not
  for (int64_t j = 0; j < n; ++j) {
    const double gj = g[j];
    const double mj = b1 * m[j] + (1 - b1) * gj;
    const double vj = b2 * v[j] + (1 - b2) * gj * gj;
    m[j] = static_cast<float>(mj);
    v[j] = static_cast<float>(vj);
    p[j] = static_cast<float>(static_cast<double>(p[j]) * decay - (stepSize * mj) / (std::sqrt(vj) / sqrtBc2 + eps));
  }
}

double sumSquares(const float* x, int64_t n) {
  double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s) if (n > 65536)
  for (int64_t j = 0; j < n; ++j) s += static_cast<double>(x[j]) * x[j];
  return s;
}

}  // namespace rankfuse
