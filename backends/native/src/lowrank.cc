// Fused low-rank (CoLA) forward: out = act(x . A) . B, one tile of rows at a time. A and B are
// packed once and shared; each thread computes its tile's rank-r intermediate into a small
// thread-local buffer (tile x r floats, cache-resident), applies the activation in place and
// multiplies it by B straight into the output, so the n x r intermediate is never materialized.
#include <algorithm>

#include "gemm.h"
#include "kernels.h"

namespace rankfuse {
namespace {
thread_local AlignedBuffer t_tile;
AlignedBuffer& packABuffer() {
  thread_local AlignedBuffer b;
  return b;
}
AlignedBuffer& packBBuffer() {
  thread_local AlignedBuffer b;
  return b;
}
}  // namespace

void lowrankForward(const float* x, const float* A, const float* B, float* out, int64_t n, int64_t dIn, int64_t r,
                    int64_t dOut, int act) {
  if (n == 0 || dOut == 0) return;
  if (dIn == 0 || r == 0) return fill(out, n * dOut, 0.0f);  // every supported act maps 0 to 0
  const PackedB pa = packB(A, r, dIn, r, packABuffer().get(static_cast<size_t>(packedBSize(dIn, r))), true);
  const PackedB pb = packB(B, dOut, r, dOut, packBBuffer().get(static_cast<size_t>(packedBSize(r, dOut))), true);
  const int64_t tileRows = 8 * static_cast<int64_t>(pa.kernel->mr);
  const int64_t tiles = (n + tileRows - 1) / tileRows;
#pragma omp parallel for schedule(dynamic, 1) if (tiles > 1 && n * (dIn + dOut) * r > 65536)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i0 = t * tileRows, m = std::min(tileRows, n - i0);
    float* z = t_tile.get(static_cast<size_t>(tileRows * r));
    gemmPackedSerial(x + i0 * dIn, dIn, pa, z, r, m, false);
    if (act != 0) unaryBlock(act, z, m * r);
    gemmPackedSerial(z, r, pb, out + i0 * dOut, dOut, m, false);
  }
}

}  // namespace rankfuse
