// N-d transpose: out[i_0..] = x at the permuted index. After merging axes that stay adjacent, a
// permutation that keeps the innermost axis in place is a strided row copy; otherwise it is a
// batch of 2-D transposes (the out axis that reads x contiguously vs. the out axis written
// contiguously), done in 32 x 32 tiles so reads and writes both stay in cache lines.
#include <algorithm>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "kernels.h"
#include "strided.h"

namespace rankfuse {
namespace {

#if defined(__AVX__)
// d[r * ldd + c] = s[c * lds + r] for an 8 x 8 block, through registers: 8 row loads, 8 row stores.
inline void transpose8x8(const uint32_t* s, int64_t lds, uint32_t* d, int64_t ldd) {
  __m256 r[8], t[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(s + k * lds));
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    r[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
    t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
  }
  for (int k = 0; k < 8; ++k) _mm256_storeu_ps(reinterpret_cast<float*>(d + k * ldd), t[k]);
}
#endif

// d[i * ldd + j] = s[j * lds + i] for i < P, j < Q (a tile).
inline void transposeTile(const uint32_t* s, int64_t lds, uint32_t* d, int64_t ldd, int64_t P, int64_t Q) {
  int64_t i0 = 0;
#if defined(__AVX__)
  for (; i0 + 8 <= P; i0 += 8) {
    int64_t j0 = 0;
    for (; j0 + 8 <= Q; j0 += 8) transpose8x8(s + j0 * lds + i0, lds, d + i0 * ldd + j0, ldd);
    for (int64_t i = i0; i < i0 + 8; ++i)
      for (int64_t j = j0; j < Q; ++j) d[i * ldd + j] = s[j * lds + i];
  }
#endif
  for (int64_t i = i0; i < P; ++i)
    for (int64_t j = 0; j < Q; ++j) d[i * ldd + j] = s[j * lds + i];
}

}  // namespace

void transpose(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int32_t* perm) {
  int64_t inStride[kMaxRank], outShape[kMaxRank], gather[kMaxRank];
  int64_t total = 1;
  for (int a = rank - 1; a >= 0; --a) {
    inStride[a] = total;
    total *= shape[a];
  }
  if (total == 0) return;
  for (int k = 0; k < rank; ++k) {
    outShape[k] = shape[perm[k]];
    gather[k] = inStride[perm[k]];
  }
  const Strided L = coalesce(rank, outShape, gather, nullptr);
  const int R = L.rank;
  int p = -1;  // the out axis along which x is contiguous
  for (int k = 0; k < R; ++k)
    if (L.st[0][k] == 1) p = k;
  if (p < 0 || p == R - 1) return broadcastTo(x, out, R, L.shape, L.st[0]);

  int64_t outStride[kMaxRank];
  int64_t acc = 1;
  for (int k = R - 1; k >= 0; --k) {
    outStride[k] = acc;
    acc *= L.shape[k];
  }
  constexpr int64_t kTile = 32;
  const int q = R - 1;
  const int64_t P = L.shape[p], Q = L.shape[q], srcQ = L.st[0][q], dstP = outStride[p];
  const int64_t tilesP = (P + kTile - 1) / kTile, tilesQ = (Q + kTile - 1) / kTile;
  int64_t outer = 1;
  for (int k = 0; k < R; ++k)
    if (k != p && k != q) outer *= L.shape[k];
  const int64_t tasks = outer * tilesP * tilesQ;
#pragma omp parallel for schedule(static) if (total > kParallelElems && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t rem = t / (tilesP * tilesQ);
    const int64_t tile = t % (tilesP * tilesQ);
    int64_t src = 0, dst = 0;
    for (int k = R - 1; k >= 0; --k) {
      if (k == p || k == q) continue;
      const int64_t i = rem % L.shape[k];
      rem /= L.shape[k];
      src += i * L.st[0][k];
      dst += i * outStride[k];
    }
    const int64_t p0 = (tile / tilesQ) * kTile, q0 = (tile % tilesQ) * kTile;
    const int64_t p1 = std::min(P, p0 + kTile), q1 = std::min(Q, q0 + kTile);
    transposeTile(x + src + p0 + q0 * srcQ, srcQ, out + dst + p0 * dstP + q0, dstP, p1 - p0, q1 - q0);
  }
}

}  // namespace rankfuse
