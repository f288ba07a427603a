// Declarations of the float32 kernels behind the N-API entry points (napi_*.cc). Every kernel
// writes into a caller-allocated output, row-major, and is safe to call with any size (including 0).
#pragma once
#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace rankfuse {

// ---- threading ----
inline int maxThreads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
// Threads in the current parallel region (1 outside one).
inline int teamSize() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}
inline int threadId() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
// Elementwise loops run in parallel above this many elements.
constexpr int64_t kParallelElems = 32768;

// ---- gemm.cc ----
// c[i] = op(a[i]) (M x K) . op(b[i]) (K x N) for i < batch; b is one matrix for every i when bShared.
// op transposes when transA / transB: a[i] is then stored K x M, b[i] N x K. With `init` (batch x M x N,
// laid out as c), c = init + op(a) . op(b): each output tile starts from init and the GEMM accumulates.
void matmul(const float* a, const float* b, float* c, int64_t batch, int64_t M, int64_t K, int64_t N, bool bShared,
            bool transA, bool transB, const float* init = nullptr);
// Single GEMM with leading dimensions, for callers that tile (lowrank.cc). Runs on the calling
// thread only. c = a . b when accumulate is false, c += a . b otherwise.
void gemmSerial(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t M, int64_t K,
                int64_t N, bool accumulate);
const char* gemmKernelName();
// ---- matmul_epilogue.cc ----
// A generated elementwise kernel's entry point (codegen.h's meta layout).
typedef void (*EpilogueKernel)(const float* const* in, float* const* out, const int64_t* meta);
constexpr int kMaxEpilogueInputs = 32;
// y = op(a)·op(b) as matmul() computes it, one block of output rows per thread, each block then fed to
// `kernel` with inputs [block of y, extra inputs...] and the matching blocks of outs; y may be null (the
// product then lives in a per-thread block only). Extra input q is read at row stride
// extraStrides[2q] and column stride extraStrides[2q + 1] over the batch * M x N output rows.
void matmulEpilogue(EpilogueKernel kernel, const float* a, const float* b, float* y, int64_t batch, int64_t M,
                    int64_t K, int64_t N, bool bShared, bool transA, bool transB, int nExtra,
                    const float* const* extra, const int64_t* extraStrides, int nOut, float* const* outs);
// Force a micro-kernel ("avx512", "avx2", "generic", or "auto"); returns false if unsupported here.
bool setGemmKernel(const char* name);

// ---- elementwise.cc ----
enum UnaryOp { kNeg, kExp, kLog, kSqrt, kTanh, kSigmoid, kSilu, kGelu, kRelu, kDsilu, kDgelu, kDrelu, kUnaryCount };
enum BinaryOp { kAdd, kSub, kMul, kDiv, kMaximum, kEqual, kBinaryCount };
void unary(int op, const float* x, float* out, int64_t n);
// Applies `op` in place to a small contiguous block on the calling thread (for fused kernels).
void unaryBlock(int op, float* x, int64_t n);
void binary(int op, const float* x, const float* y, float* out, int rank, const int64_t* shape, const int64_t* xs,
            const int64_t* ys);
void broadcastTo(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int64_t* xs);
void fill(float* out, int64_t n, float value);

// ---- reduce.cc ----
enum ReduceOp { kSum, kMax, kMean, kReduceCount };
void reduce(int op, const float* x, float* out, int rank, const int64_t* shape, const int32_t* mask);

// ---- transpose.cc ----
void transpose(const uint32_t* x, uint32_t* out, int rank, const int64_t* shape, const int32_t* perm);

// ---- rows.cc ----
void softmax(const float* x, float* out, int64_t rows, int64_t width, int64_t causalT);
void logSoftmax(const float* x, float* out, int64_t rows, int64_t width);
void rmsnorm(const float* x, const float* w, float* out, int64_t rows, int64_t width, float eps);
void rope(const float* x, float* out, int64_t rows, int64_t T, int64_t Dh, double base, bool inverse);
// rope on [.., T, H, Dh] rows (row r is position (r / H) % T), with an optional scalar factor applied
// before (scaleAt < 0) or after (scaleAt > 0) the rotation, as a separate mul would round it.
void ropeHeads(const float* x, float* out, int64_t rows, int64_t T, int64_t H, int64_t Dh, double base, bool inverse,
               float scale, int scaleAt);
// Returns -1, or the index r of the first row whose target is out of range.
int64_t crossEntropy(const float* logits, const int32_t* targets, float* out, int64_t rows, int64_t V);

// ---- indexing.cc (each returns -1, or the position of the first out-of-range id) ----
int64_t gather(const float* table, const int32_t* ids, float* out, int64_t n, int64_t V, int64_t D);
int64_t scatterAdd(const float* values, const int32_t* ids, float* out, int64_t n, int64_t V, int64_t D);
void oneHot(const int32_t* ids, float* out, int64_t n, int64_t depth);

// ---- lowrank.cc ----
// out (n x dOut) = act(x (n x dIn) . A (dIn x r)) . B (r x dOut), tile by tile; act is a unary op code
// (0 = identity, kSilu, kGelu, kRelu).
void lowrankForward(const float* x, const float* A, const float* B, float* out, int64_t n, int64_t dIn, int64_t r,
                    int64_t dOut, int act);
// The same with an epilogue out = y (op) e (op = kAdd or kMul; e null or epilogue -1 for none) and the
// rank-r values the backward pass reads written out where non-null: zOut = x . A, hOut = act(zOut).
void lowrankForwardEx(const float* x, const float* A, const float* B, const float* e, int epilogue, float* out,
                      float* zOut, float* hOut, int64_t n, int64_t dIn, int64_t r, int64_t dOut, int act);
// The tail link of a longer chain: out (n x dOut) = act(x (n x r)) . B (r x dOut) (op) e, with x the
// previous link's output (its first product already done) and hOut = act(x) where non-null.
void lowrankTailForward(const float* x, const float* B, const float* e, int epilogue, float* out, float* hOut,
                        int64_t n, int64_t r, int64_t dOut, int act);
// Backward of y = act(x . A) . B from dY (n x dOut): dZ = (dY . B^T) * act'(z), then where non-null
// dX = dZ . A^T (+ acc when non-null), dA = x^T . dZ, dB = h^T . dY, dZout = dZ. z is read when act != 0,
// A for dX, x for dA, h for dB. dA and dB repeat bit for bit run to run at a fixed thread count.
void lowrankBackward(const float* dY, const float* B, const float* z, const float* A, const float* acc, const float* x,
                     const float* h, float* dX, float* dA, float* dB, float* dZout, int64_t n, int64_t dIn, int64_t r,
                     int64_t dOut, int act);

// ---- attention.cc ----
// Causal attention over bh slices of T rows: O (bh x T x dv) = softmax_causal(q . k^T) . v with q, k
// bh x T x dk (the 1/sqrt(dk) scale is the caller's); P (bh x T x T) written out where non-null. With
// heads > 0 every operand but P is [bh / heads, T, heads, d] instead (the layout before the head split).
void attentionForward(const float* q, const float* k, const float* v, float* o, float* pOut, int64_t bh, int64_t T,
                      int64_t dk, int64_t dv, int64_t heads);
// Its backward from dO: dQ, dK, dV where non-null. P is the forward's probabilities, or null to recompute
// them from q and k block by block. Repeats bit for bit run to run and at any thread count.
void attentionBackward(const float* q, const float* k, const float* v, const float* dO, const float* P, float* dQ,
                       float* dK, float* dV, int64_t bh, int64_t T, int64_t dk, int64_t dv, int64_t heads);

}  // namespace rankfuse
