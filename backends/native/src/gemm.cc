// Cache-blocked packed GEMM (Goto/BLIS loop order). B is packed once per call into KC x NR panels
// (shared, read-only); the output is cut into MC x NC tiles handed to OpenMP threads dynamically;
// each tile packs its rows of A per K block into a thread-local MC x KC buffer (L2-resident) and
// sweeps the micro-kernel over NR-column panels (a KC x NR panel of B stays in L1) and MR-row panels.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#if defined(__SSE__)
#include <immintrin.h>
#endif

#include "kernels.h"

namespace rankfuse {
namespace {

#ifndef RANKFUSE_KC
#define RANKFUSE_KC 256
#endif
constexpr int64_t kKc = RANKFUSE_KC;     // K block: a KC x NR panel of B is 32 KiB for NR = 32
#ifndef RANKFUSE_MC
#define RANKFUSE_MC 168
#endif
constexpr int64_t kMcRows = RANKFUSE_MC; // M block target (rounded to a multiple of MR): ~170 KiB of packed A

std::atomic<const MicroKernel*> g_kernel{nullptr};

const MicroKernel* detectKernel() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && avx512MicroKernel()) return avx512MicroKernel();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && avx2MicroKernel()) return avx2MicroKernel();
#endif
  return genericMicroKernel();
}

thread_local AlignedBuffer t_packA;
thread_local AlignedBuffer t_packB;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Rows [0, m) x columns [k0, k0 + kc) of a, as ceil(m / MR) panels of kc x MR (zero-padded rows).
// Row-major panels with MR a multiple of 4 go through 4 x 4 register transposes; a transposed a
// (rows contiguous) is copied a column at a time.
void packA(View av, int64_t m, int64_t k0, int64_t kc, int mr, float* dst) {
  const float* a = av.p;
  const int64_t lda = av.rs;
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int64_t rows = std::min<int64_t>(mr, m - i0);
    float* d = dst + i0 * kc;
    if (av.cs != 1) {
      if (rows < mr) std::memset(d, 0, sizeof(float) * kc * mr);
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = a + i0 * av.rs + (k0 + k) * av.cs;
        if (av.rs == 1) std::memcpy(d + k * mr, s, sizeof(float) * rows);
        else
          for (int64_t r = 0; r < rows; ++r) d[k * mr + r] = s[r * av.rs];
      }
      continue;
    }
#if defined(__SSE__)
    if (rows == mr && mr % 4 == 0) {
      for (int r0 = 0; r0 < mr; r0 += 4) {
        const float* s0 = a + (i0 + r0) * lda + k0;
        const float *s1 = s0 + lda, *s2 = s1 + lda, *s3 = s2 + lda;
        int64_t k = 0;
        for (; k + 4 <= kc; k += 4) {
          __m128 x0 = _mm_loadu_ps(s0 + k), x1 = _mm_loadu_ps(s1 + k), x2 = _mm_loadu_ps(s2 + k),
                 x3 = _mm_loadu_ps(s3 + k);
          _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
          _mm_storeu_ps(d + (k + 0) * mr + r0, x0);
          _mm_storeu_ps(d + (k + 1) * mr + r0, x1);
          _mm_storeu_ps(d + (k + 2) * mr + r0, x2);
          _mm_storeu_ps(d + (k + 3) * mr + r0, x3);
        }
        for (; k < kc; ++k) {
          d[k * mr + r0] = s0[k];
          d[k * mr + r0 + 1] = s1[k];
          d[k * mr + r0 + 2] = s2[k];
          d[k * mr + r0 + 3] = s3[k];
        }
      }
      continue;
    }
#endif
    if (rows < mr) std::memset(d, 0, sizeof(float) * kc * mr);
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = a + (i0 + r) * lda + k0;
      for (int64_t k = 0; k < kc; ++k) d[k * mr + r] = s[k];
    }
  }
}

// One M block [i0, i0 + m) x panels [p0, p1) of the output, over all of K.
void gemmTile(View a, const PackedB& B, float* c, int64_t ldc, int64_t i0, int64_t m, int64_t p0,
              int64_t p1, bool accumulate, float* apack) {
  const MicroKernel& kern = *B.kernel;
  const int mr = kern.mr, nr = kern.nr;
  for (int64_t k0 = 0; k0 < B.K; k0 += kKc) {
    const int64_t kc = std::min(kKc, B.K - k0);
    packA(View{a.p + i0 * a.rs, a.rs, a.cs}, m, k0, kc, mr, apack);
    const bool acc = accumulate || k0 > 0;
    for (int64_t p = p0; p < p1; ++p) {
      const float* bp = B.data + k0 * B.nPad + p * kc * nr;
      const int cols = static_cast<int>(std::min<int64_t>(nr, B.N - p * nr));
      float* cp = c + i0 * ldc + p * nr;
      for (int64_t ir = 0; ir < m; ir += mr) {
        const int rows = static_cast<int>(std::min<int64_t>(mr, m - ir));
        kern.fn(kc, apack + ir * kc, bp, cp + ir * ldc, ldc, rows, cols, acc);
      }
    }
  }
}

int64_t mcFor(const MicroKernel& k) { return std::max<int64_t>(1, kMcRows / k.mr) * k.mr; }

// Packs task t of the K x N right-hand side: the panel (t % panels) of K block (t / panels).
void packBTask(View b, int64_t K, int64_t N, int nr, float* dst, int64_t t) {
  const int64_t panels = ceilDiv(N, nr), nPad = panels * nr;
  const int64_t k0 = (t / panels) * kKc, p = t % panels;
  const int64_t kc = std::min(kKc, K - k0);
  const int64_t cols = std::min<int64_t>(nr, N - p * nr);
  float* d = dst + k0 * nPad + p * kc * nr;
  const float* s = b.p + k0 * b.rs + p * nr * b.cs;
  if (b.cs != 1) {  // a transposed b: each panel column is contiguous in k
    if (cols < nr) std::memset(d, 0, sizeof(float) * kc * nr);
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t k = 0; k < kc; ++k) d[k * nr + j] = s[j * b.cs + k * b.rs];
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    std::memcpy(d + k * nr, s + k * b.rs, sizeof(float) * cols);
    if (cols < nr) std::memset(d + k * nr + cols, 0, sizeof(float) * (nr - cols));
  }
}

// How the output is cut into tiles for a team of `threads`: enough tiles for dynamic balancing
// (one when single-threaded), shrinking the row block first (down to 2 MR panels) and only then
// splitting N, since every N block repacks its rows of A.
struct TilePlan {
  int64_t mc, nBlocks, perBlock, panels, tiles;
};

TilePlan planTiles(const MicroKernel& kern, int64_t M, int64_t N, int threads) {
  TilePlan P;
  P.panels = ceilDiv(N, kern.nr);
  const int64_t want = threads == 1 ? 1 : 3 * threads;
  P.mc = mcFor(kern);
  while (P.mc > 2 * kern.mr && ceilDiv(M, P.mc) < want) P.mc -= kern.mr;
  const int64_t mBlocks = ceilDiv(M, P.mc);
  P.nBlocks = std::min<int64_t>(P.panels, std::max<int64_t>(1, ceilDiv(want, mBlocks)));
  P.perBlock = ceilDiv(P.panels, P.nBlocks);
  P.tiles = mBlocks * P.nBlocks;
  return P;
}

// One tile of the output; with `init` (laid out as c), the tile starts from init's values, copied
// while the tile is about to be written, and the product accumulates onto them.
void runTile(const TilePlan& P, int64_t t, View a, const PackedB& B, float* c, int64_t ldc, int64_t M,
             const float* init) {
  const int mr = B.kernel->mr, nr = B.kernel->nr;
  const int64_t i0 = (t / P.nBlocks) * P.mc, m = std::min(P.mc, M - i0);
  const int64_t p0 = (t % P.nBlocks) * P.perBlock, p1 = std::min(P.panels, p0 + P.perBlock);
  if (p0 >= p1) return;
  if (init) {
    const int64_t j0 = p0 * nr, j1 = std::min(B.N, p1 * nr);
    for (int64_t i = i0; i < i0 + m; ++i)
      std::memcpy(c + i * ldc + j0, init + i * ldc + j0, sizeof(float) * static_cast<size_t>(j1 - j0));
  }
  float* apack = t_packA.get(static_cast<size_t>(ceilDiv(m, mr) * mr * std::min(kKc, B.K)));
  gemmTile(a, B, c, ldc, i0, m, p0, p1, init != nullptr, apack);
}

// c = a . b for one M x K by K x N product: B is packed by the team and, after one barrier, the
// tiles are shared out dynamically, all inside a single parallel region.
void gemmParallel(View a, View b, float* c, int64_t M, int64_t K, int64_t N, float* bpack, const float* init) {
  const MicroKernel& kern = activeMicroKernel();
  const int threads = maxThreads();
  const PackedB B{bpack, K, N, ceilDiv(N, kern.nr) * kern.nr, &kern};
  const TilePlan P = planTiles(kern, M, N, threads);
  const int64_t packTasks = ceilDiv(K, kKc) * P.panels;
#pragma omp parallel if (threads > 1 && P.tiles > 1)
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < packTasks; ++t) packBTask(b, K, N, kern.nr, bpack, t);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < P.tiles; ++t) runTile(P, t, a, B, c, N, M, init);
  }
}

// c = a . b with the K block outermost: each KC x N block of B is packed once and stays in L2 while
// every M block (packed once per K block) sweeps it, so a long K streams each operand from memory once
// instead of re-reading a K x N packed B (beyond L2) per M block.
void gemmKOuter(View a, View b, float* c, int64_t ldc, int64_t M, int64_t K, int64_t N, bool accumulate) {
  const MicroKernel& kern = activeMicroKernel();
  const int mr = kern.mr, nr = kern.nr;
  const int64_t mc = mcFor(kern), panels = ceilDiv(N, nr);
  float* bpack = t_packB.get(static_cast<size_t>(std::min(kKc, K) * panels * nr));
  float* apack = t_packA.get(static_cast<size_t>(mc * std::min(kKc, K)));
  for (int64_t k0 = 0; k0 < K; k0 += kKc) {
    const int64_t kc = std::min(kKc, K - k0);
    for (int64_t p = 0; p < panels; ++p) packBTask(View{b.p + k0 * b.rs, b.rs, b.cs}, kc, N, nr, bpack, p);
    const bool acc = accumulate || k0 > 0;
    for (int64_t i0 = 0; i0 < M; i0 += mc) {
      const int64_t m = std::min(mc, M - i0);
      packA(View{a.p + i0 * a.rs, a.rs, a.cs}, m, k0, kc, mr, apack);
      for (int64_t p = 0; p < panels; ++p) {
        const int cols = static_cast<int>(std::min<int64_t>(nr, N - p * nr));
        float* cp = c + i0 * ldc + p * nr;
        for (int64_t ir = 0; ir < m; ir += mr) {
          const int rows = static_cast<int>(std::min<int64_t>(mr, m - ir));
          kern.fn(kc, apack + ir * kc, bpack + p * kc * nr, cp + ir * ldc, ldc, rows, cols, acc);
        }
      }
    }
  }
}

// Parts a product's K is cut into when its output is too small to keep the team busy (a weight
// gradient xᵀ·g: K = tokens, M and N = widths); 1 when output tiles share the work well.
int64_t kPartsFor(int64_t M, int64_t K, int64_t N, int threads) {
  if (threads == 1 || K < 2 * std::max(M, N) || K < 2 * kKc * threads) return 1;
  return threads;
}

// c = a . b as `parts` K ranges (whole K blocks), each a serial K-outer product into c (the first,
// from init when given) or a partial buffer, then summed part by part in order: the result depends
// only on `parts`, not on which thread ran what.
void gemmKSplit(View a, View b, float* c, int64_t M, int64_t K, int64_t N, int64_t parts, const float* init) {
  thread_local AlignedBuffer t_partial;
  float* partial = t_partial.get(static_cast<size_t>((parts - 1) * M * N));
  const int64_t blocks = ceilDiv(K, kKc);
#pragma omp parallel num_threads(static_cast<int>(parts))
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < parts; ++t) {
      const int64_t k0 = blocks * t / parts * kKc, k1 = std::min(K, blocks * (t + 1) / parts * kKc);
      float* dst = t == 0 ? c : partial + (t - 1) * M * N;
      if (t == 0 && init) std::memcpy(c, init, sizeof(float) * static_cast<size_t>(M * N));
      gemmKOuter(View{a.p + k0 * a.cs, a.rs, a.cs}, View{b.p + k0 * b.rs, b.rs, b.cs}, dst, N, M, k1 - k0, N,
                 t == 0 && init != nullptr);
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < M; ++i) {
      float* __restrict ci = c + i * N;
      for (int64_t t = 1; t < parts; ++t) {
        const float* __restrict pi = partial + (t - 1) * M * N + i * N;
        for (int64_t j = 0; j < N; ++j) ci[j] += pi[j];
      }
    }
  }
}

// Unpacked kernel for shapes where packing costs more than it saves (tiny, or M or N of 1-2).
void gemmDirect(View av, View bv, float* c, int64_t ldc, int64_t M, int64_t K, int64_t N, bool accumulate) {
  if (av.cs != 1 || bv.cs != 1) {  // transposed operands: plain strided loops (these shapes are tiny)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += static_cast<double>(av.p[i * av.rs + k * av.cs]) * bv.p[k * bv.rs + j * bv.cs];
        c[i * ldc + j] = accumulate ? c[i * ldc + j] + static_cast<float>(s) : static_cast<float>(s);
      }
    return;
  }
  const float* a = av.p;
  const float* b = bv.p;
  const int64_t lda = av.rs, ldb = bv.rs;
  for (int64_t i = 0; i < M; ++i) {
    float* __restrict ci = c + i * ldc;
    const float* ai = a + i * lda;
    if (N == 1) {
      float lanes[16] = {};
      int64_t k = 0;
      for (; k + 16 <= K; k += 16)
        for (int l = 0; l < 16; ++l) lanes[l] += ai[k + l] * b[(k + l) * ldb];
      double s = 0;
      for (int l = 0; l < 16; ++l) s += lanes[l];
      for (; k < K; ++k) s += static_cast<double>(ai[k]) * b[k * ldb];
      ci[0] = accumulate ? ci[0] + static_cast<float>(s) : static_cast<float>(s);
      continue;
    }
    if (!accumulate) std::memset(ci, 0, sizeof(float) * N);
    for (int64_t k = 0; k < K; ++k) {
      const float av = ai[k];
      const float* __restrict bk = b + k * ldb;
      for (int64_t j = 0; j < N; ++j) ci[j] += av * bk[j];
    }
  }
}

bool useDirect(int64_t M, int64_t K, int64_t N) { return M <= 2 || N <= 2 || K <= 2 || M * N * K <= 8 * 8 * 8 * 8; }

}  // namespace

const MicroKernel& activeMicroKernel() {
  const MicroKernel* k = g_kernel.load(std::memory_order_acquire);
  if (!k) {
    k = detectKernel();
    g_kernel.store(k, std::memory_order_release);
  }
  return *k;
}

const char* gemmKernelName() { return activeMicroKernel().name; }

bool setGemmKernel(const char* name) {
  const MicroKernel* k = nullptr;
  const std::string n(name);
  if (n == "auto") k = detectKernel();
#if defined(__x86_64__) || defined(__i386__)
  else if (n == "avx512") k = __builtin_cpu_supports("avx512f") ? avx512MicroKernel() : nullptr;
  else if (n == "avx2") k = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? avx2MicroKernel() : nullptr;
#endif
  else if (n == "generic") k = genericMicroKernel();
  if (!k) return false;
  g_kernel.store(k, std::memory_order_release);
  return true;
}

int64_t packedBSize(int64_t K, int64_t N) {
  const int nr = activeMicroKernel().nr;
  return K * ceilDiv(N, nr) * nr;
}

PackedB packB(const float* b, int64_t ldb, int64_t K, int64_t N, float* dst, bool parallel) {
  return packB(View{b, ldb, 1}, K, N, dst, parallel);
}

PackedB packB(View b, int64_t K, int64_t N, float* dst, bool parallel) {
  const MicroKernel* kern = &activeMicroKernel();
  const int64_t panels = ceilDiv(N, kern->nr), tasks = ceilDiv(K, kKc) * panels;
#pragma omp parallel for schedule(static) if (parallel && K * N > 65536)
  for (int64_t t = 0; t < tasks; ++t) packBTask(b, K, N, kern->nr, dst, t);
  return PackedB{dst, K, N, panels * kern->nr, kern};
}

void gemmPackedSerial(const float* a, int64_t lda, const PackedB& B, float* c, int64_t ldc, int64_t M,
                      bool accumulate) {
  const MicroKernel& kern = *B.kernel;
  const int64_t mc = mcFor(kern), panels = ceilDiv(B.N, kern.nr);
  float* apack = t_packA.get(static_cast<size_t>(mc * std::min(kKc, B.K)));
  for (int64_t i0 = 0; i0 < M; i0 += mc) gemmTile(View{a, lda, 1}, B, c, ldc, i0, std::min(mc, M - i0), 0, panels, accumulate, apack);
}

void gemmSerial(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t M, int64_t K,
                int64_t N, bool accumulate) {
  gemmSerial(View{a, lda, 1}, View{b, ldb, 1}, c, ldc, M, K, N, accumulate);
}

void gemmSerial(View a, View b, float* c, int64_t ldc, int64_t M, int64_t K, int64_t N, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(c + i * ldc, 0, sizeof(float) * N);
    return;
  }
  if (useDirect(M, K, N)) return gemmDirect(a, b, c, ldc, M, K, N, accumulate);
  const PackedB B = packB(b, K, N, t_packB.get(static_cast<size_t>(packedBSize(K, N))), false);
  const MicroKernel& kern = *B.kernel;
  const int64_t mc = mcFor(kern), panels = ceilDiv(B.N, kern.nr);
  float* apack = t_packA.get(static_cast<size_t>(mc * std::min(kKc, B.K)));
  for (int64_t i0 = 0; i0 < M; i0 += mc) gemmTile(a, B, c, ldc, i0, std::min(mc, M - i0), 0, panels, accumulate, apack);
}

void matmul(const float* a, const float* b, float* c, int64_t batch, int64_t M, int64_t K, int64_t N, bool bShared,
            bool transA, bool transB, const float* init) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (bShared && !transA) {  // the stacked a[i] are one (batch * M) x K matrix
    M *= batch;
    batch = 1;
  }
  const int threads = maxThreads();
  const int64_t flopsEach = M * N * K;
  const bool acc = init != nullptr;
  // c[first, first + n) = init[first, first + n): the start of an accumulating product
  const auto start = [&](int64_t first, int64_t n) {
    if (acc) std::memcpy(c + first, init + first, sizeof(float) * static_cast<size_t>(n));
  };
  if (K == 0) {
    if (acc) return start(0, batch * M * N);
    return fill(c, batch * M * N, 0.0f);
  }
  // element (i, k) of a[i] is at i * rs + k * cs; a transposed operand is stored the other way round
  const auto viewA = [&](int64_t i) { return transA ? View{a + i * M * K, 1, M} : View{a + i * M * K, K, 1}; };
  const auto viewB = [&](int64_t i) {
    const float* bi = b + (bShared ? 0 : i * K * N);
    return transB ? View{bi, 1, K} : View{bi, N, 1};
  };
  if (useDirect(M, K, N)) {
    if (!transA && !transB) {
      const int64_t rows = batch * M;
#pragma omp parallel for schedule(static) if (threads > 1 && rows * N * K > 65536)
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = r / M;
        start(r * N, N);
        gemmDirect(View{a + r * K, K, 1}, viewB(i), c + r * N, N, 1, K, N, acc);
      }
      return;
    }
#pragma omp parallel for schedule(static) if (threads > 1 && batch > 1)
    for (int64_t i = 0; i < batch; ++i) {
      start(i * M * N, M * N);
      gemmDirect(viewA(i), viewB(i), c + i * M * N, N, M, K, N, acc);
    }
    return;
  }
  if (batch >= 2 * threads && flopsEach < (int64_t{1} << 24)) {
    // Many small products: one per thread at a time, each packing its own B.
#pragma omp parallel for schedule(dynamic, 1) if (threads > 1)
    for (int64_t i = 0; i < batch; ++i) {
      start(i * M * N, M * N);
      gemmSerial(viewA(i), viewB(i), c + i * M * N, N, M, K, N, acc);
    }
    return;
  }
  const int64_t parts = kPartsFor(M, K, N, threads);
  if (parts > 1) {
    for (int64_t i = 0; i < batch; ++i)
      gemmKSplit(viewA(i), viewB(i), c + i * M * N, M, K, N, parts, acc ? init + i * M * N : nullptr);
    return;
  }
  float* bpack = t_packB.get(static_cast<size_t>(packedBSize(K, N)));
  for (int64_t i = 0; i < batch; ++i)
    gemmParallel(viewA(i), viewB(i), c + i * M * N, M, K, N, bpack, acc ? init + i * M * N : nullptr);
}

}  // namespace rankfuse
