// A matmul whose output feeds an elementwise epilogue (passes/matmulEpilogueFusion.ts): the product is
// computed one block of output rows at a time, each block by one thread (blocks in parallel), and a
// generated elementwise kernel (backends/native/codegen) runs on the block right after its GEMM, while
// it is still in cache. The product goes to y when the graph reads it, else to a per-thread scratch
// block that never reaches memory.
#include <algorithm>
#include <cstring>

#include "gemm.h"
#include "kernels.h"

namespace rankfuse {

namespace {
thread_local AlignedBuffer t_block;
thread_local AlignedBuffer t_bpack;
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

void matmulEpilogue(EpilogueKernel kernel, const float* a, const float* b, float* y, int64_t batch, int64_t M,
                    int64_t K, int64_t N, bool bShared, bool transA, bool transB, int nExtra,
                    const float* const* extra, const int64_t* extraStrides, int nOut, float* const* outs) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (bShared && !transA) {  // the stacked a[i] are one (batch * M) x K matrix
    M *= batch;
    batch = 1;
  }
  const int threads = maxThreads();
  // blocks of 16..64 rows, at least four per thread where there are enough rows
  const int64_t rowsPer = std::clamp<int64_t>(ceilDiv(ceilDiv(batch * M, 4 * threads), 8) * 8, 16, 64);
  const int64_t blocksPer = ceilDiv(M, rowsPer), tasks = batch * blocksPer;
  // one right-hand side for every block: packed once, read by all
  const bool packed = batch == 1 && !transA && K > 0;
  PackedB PB{};
  if (packed) {
    const View bv = transB ? View{b, 1, K} : View{b, N, 1};
    PB = packB(bv, K, N, t_bpack.get(static_cast<size_t>(packedBSize(K, N))), true);
  }
#pragma omp parallel for schedule(dynamic) if (tasks > 1 && batch * M * N * std::max<int64_t>(K, 1) > 262144)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t i = t / blocksPer, r0 = (t % blocksPer) * rowsPer, rows = std::min(rowsPer, M - r0);
    const int64_t g0 = i * M + r0;  // the block's first row among all batch * M
    float* yb = y ? y + g0 * N : t_block.get(static_cast<size_t>(rows * N));
    if (K == 0)
      std::memset(yb, 0, sizeof(float) * static_cast<size_t>(rows * N));
    else if (packed)
      gemmPackedSerial(a + r0 * K, K, PB, yb, N, rows, false);
    else {
      const View av = transA ? View{a + i * M * K + r0, 1, M} : View{a + i * M * K + r0 * K, K, 1};
      const float* bi = b + (bShared ? 0 : i * K * N);
      gemmSerial(av, transB ? View{bi, 1, K} : View{bi, N, 1}, yb, N, rows, K, N, false);
    }
    const float* ins[kMaxEpilogueInputs + 1];
    float* os[kMaxEpilogueInputs];
    int64_t meta[3 + 2 * (kMaxEpilogueInputs + 1)] = {2, rows, N, N, 1};
    ins[0] = yb;
    for (int q = 0; q < nExtra; ++q) {
      ins[1 + q] = extra[q] + g0 * extraStrides[2 * q];
      meta[5 + 2 * q] = extraStrides[2 * q];
      meta[6 + 2 * q] = extraStrides[2 * q + 1];
    }
    for (int k = 0; k < nOut; ++k) os[k] = outs[k] + g0 * N;
    kernel(ins, os, meta);
  }
}

}  // namespace rankfuse
