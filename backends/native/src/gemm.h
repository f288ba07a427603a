// Packed GEMM driver (gemm.cc): B is packed once into KC x NR panels and reused by every row block
// of A, which each thread packs into its own MC x KC buffer. Exposed for fused kernels that reuse a
// packed right-hand side across many row tiles (lowrank.cc).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <new>

#include "gemm_kernels.h"

namespace rankfuse {

// A 64-byte-aligned float buffer that only grows.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(p_); }
  float* get(size_t n) {
    if (n > cap_) {
      std::free(p_);
      cap_ = n + n / 4 + 64;
      p_ = static_cast<float*>(std::aligned_alloc(64, ((cap_ * sizeof(float) + 63) / 64) * 64));
      if (!p_) {
        cap_ = 0;
        throw std::bad_alloc();
      }
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

// A strided matrix: element (i, j) is p[i * rs + j * cs] (rs = ld, cs = 1 row-major; rs = 1 transposed).
struct View {
  const float* p;
  int64_t rs, cs;
};

// The right-hand side K x N in panels: for each K block [k0, k0 + kc), ceil(N / NR) panels of
// kc x NR floats, zero-padded in the last panel. Panel (k0, j) starts at k0 * nPad + j * kc * NR.
struct PackedB {
  const float* data;
  int64_t K, N, nPad;
  const MicroKernel* kernel;  // the micro-kernel whose NR the panels are laid out for
};

const MicroKernel& activeMicroKernel();
// Floats needed to pack a K x N right-hand side for the active micro-kernel.
int64_t packedBSize(int64_t K, int64_t N);
// Packs b (K x N, leading dimension ldb) into dst (packedBSize floats); parallel when `parallel`.
PackedB packB(const float* b, int64_t ldb, int64_t K, int64_t N, float* dst, bool parallel);
PackedB packB(View b, int64_t K, int64_t N, float* dst, bool parallel);
// c (M x N, ldc) = a . b for strided a and b, on the calling thread.
void gemmSerial(View a, View b, float* c, int64_t ldc, int64_t M, int64_t K, int64_t N, bool accumulate);
// c (M x N, ldc) = a (M x K, lda) . B, or += when accumulate. On the calling thread only.
void gemmPackedSerial(const float* a, int64_t lda, const PackedB& B, float* c, int64_t ldc, int64_t M,
                      bool accumulate);

}  // namespace rankfuse
