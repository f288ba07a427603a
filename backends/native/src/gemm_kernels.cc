// GEMM micro-kernels (see gemm_kernels.h): AVX-512 (12 x 32), AVX2/FMA (6 x 16) and portable C++ (6 x 16).
#include "gemm_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RANKFUSE_X86 1
#endif

#ifndef RANKFUSE_AVX512_MR
#define RANKFUSE_AVX512_MR 12
#endif
#ifndef RANKFUSE_AVX512_NV
#define RANKFUSE_AVX512_NV 2
#endif

namespace rankfuse {

#ifdef RANKFUSE_X86
// MR rows x (NV x 16) columns of zmm accumulators. B is loaded once per k into NV registers, each A
// value is broadcast once and used NV times.
template <int MR, int NV>
__attribute__((target("avx512f,avx512vl,fma"))) static void kernelAvx512(int64_t kc, const float* __restrict ap,
                                                                         const float* __restrict bp, float* c,
                                                                         int64_t ldc, int mr, int nr,
                                                                         bool accumulate) {
  constexpr int NR = NV * 16;
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int i = 0; i < (mr < MR ? mr : MR); ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);

#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(bp + v * 16);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      __m512 a = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
    }
    ap += MR;
    bp += NR;
  }

  if (mr == MR && nr == NR) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * ldc + v * 16;
        _mm512_storeu_ps(p, accumulate ? _mm512_add_ps(_mm512_loadu_ps(p), acc[i][v]) : acc[i][v]);
      }
    return;
  }
  __mmask16 masks[NV];
  for (int v = 0; v < NV; ++v) {
    int lanes = nr - v * 16;
    lanes = lanes < 0 ? 0 : lanes > 16 ? 16 : lanes;
    masks[v] = static_cast<__mmask16>((1u << lanes) - 1u);
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      float* p = c + i * ldc + v * 16;
      __m512 r = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(masks[v], p), acc[i][v]) : acc[i][v];
      _mm512_mask_storeu_ps(p, masks[v], r);
    }
  }
}

// 6 rows x 16 columns: 12 ymm accumulators, 2 for B, 1 broadcast.
__attribute__((target("avx2,fma"))) static void kernelAvx2(int64_t kc, const float* __restrict ap,
                                                           const float* __restrict bp, float* c, int64_t ldc, int mr,
                                                           int nr, bool accumulate) {
  constexpr int MR = 6, NR = 16;
  __m256 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < 2; ++v) {
        float* p = c + i * ldc + v * 8;
        _mm256_storeu_ps(p, accumulate ? _mm256_add_ps(_mm256_loadu_ps(p), acc[i][v]) : acc[i][v]);
      }
    return;
  }
  alignas(32) float tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < 2; ++v) _mm256_store_ps(tile + i * NR + v * 8, acc[i][v]);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}
#endif

// Portable: GCC vector extensions (lowered to whatever SIMD the target has, or scalar code), 6 x 16.
static void kernelGeneric(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc,
                          int mr, int nr, bool accumulate) {
  typedef float v16 __attribute__((vector_size(64)));
  constexpr int MR = 6, NR = 16;
  v16 acc[MR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    v16 b;
    __builtin_memcpy(&b, bp, sizeof b);
    for (int i = 0; i < MR; ++i) acc[i] += ap[i] * b;
    ap += MR;
    bp += NR;
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

const MicroKernel* avx512MicroKernel() {
#ifdef RANKFUSE_X86
  static const MicroKernel k{"avx512", RANKFUSE_AVX512_MR, RANKFUSE_AVX512_NV * 16,
                             kernelAvx512<RANKFUSE_AVX512_MR, RANKFUSE_AVX512_NV>};
  return &k;
#else
  return nullptr;
#endif
}

const MicroKernel* avx2MicroKernel() {
#ifdef RANKFUSE_X86
  static const MicroKernel k{"avx2", 6, 16, kernelAvx2};
  return &k;
#else
  return nullptr;
#endif
}

const MicroKernel* genericMicroKernel() {
  static const MicroKernel k{"generic", 6, 16, kernelGeneric};
  return &k;
}

}  // namespace rankfuse
