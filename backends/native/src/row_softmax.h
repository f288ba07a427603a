// The one row softmax of the engine, shared by rows.cc (softmax, logSoftmax, cross-entropy) and
// attention.cc (the fused kernel's probabilities), so the fused and unfused paths round identically:
// row max, exp(x - max) vectorized with vmath.h, the sum in double, one float reciprocal.
// Defined out of line (row_softmax.cc), not inline in this header: inlined into the row loops, a causal
// softmax of 64 x 256 rows measured 10.1 us against 5.9 us out of line (1 thread).
#pragma once
#include <cstdint>

namespace rankfuse {
namespace rowsoftmax {

float rowMax(const float* x, int64_t n);
// out[j] = exp(x[j] - m) (out may be null, or x itself); returns the sum of those values (in double).
double expShiftSum(const float* x, float* out, int64_t n, float m);
// out = softmax of x's first `live` entries, and 0 in columns [live, n) (the causal mask); out may be x.
void softmaxRow(const float* x, float* out, int64_t live, int64_t n);

}  // namespace rowsoftmax
}  // namespace rankfuse
