// The shared row softmax (row_softmax.h).
#include "row_softmax.h"

#include <algorithm>
#include <limits>

#include "vmath.h"

namespace rankfuse {
namespace rowsoftmax {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float rowMax(const float* x, int64_t n) {
  vm::vf m = vm::splat(kNegInf);
  int64_t j = 0;
  for (; j + vm::kLanes <= n; j += vm::kLanes) m = vm::vmax(m, vm::load(x + j));
  if (j < n) m = vm::vmax(m, vm::loadPartial(x + j, n - j, kNegInf));
  float r = kNegInf;
  for (int l = 0; l < vm::kLanes; ++l) r = m[l] > r ? m[l] : r;
  return r;
}

double expShiftSum(const float* x, float* out, int64_t n, float m) {
  vm::vf acc = vm::splat(0.0f);
  int64_t j = 0;
  for (; j + vm::kLanes <= n; j += vm::kLanes) {
    const vm::vf e = vm::exp(vm::load(x + j) - m);
    if (out) vm::store(out + j, e);
    acc += e;
  }
  double s = 0;
  if (j < n) {
    const vm::vf e = vm::exp(vm::loadPartial(x + j, n - j, kNegInf) - m);
    if (out) vm::storePartial(out + j, e, n - j);
    for (int64_t l = 0; l < n - j; ++l) s += e[l];
  }
  for (int l = 0; l < vm::kLanes; ++l) s += acc[l];
  return s;
}

void softmaxRow(const float* x, float* out, int64_t live, int64_t n) {
  const float m = rowMax(x, live);
  const float inv = static_cast<float>(1.0 / expShiftSum(x, out, live, m));
  for (int64_t j = 0; j < live; ++j) out[j] *= inv;
  std::fill(out + live, out + n, 0.0f);
}

}  // namespace rowsoftmax
}  // namespace rankfuse
