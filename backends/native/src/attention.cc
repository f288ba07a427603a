// Fused causal attention, one (batch * head) slice at a time, in blocks of query rows, so the
// [t, t] score matrix is never materialized: a block's scores (kBlock x keys) stay in a per-thread
// buffer. Row block [i0, i0 + m) only sees keys [0, i0 + m) (causal), so the masked upper triangle
// is skipped, except the half of each diagonal block (zeros that the products carry along).
//
// Forward:  S = q . k^T, P = softmax_causal(S), O = P . v  (P written out only when asked: pOut).
// Backward: P (read from the forward when given, else recomputed from q and k: flash-style),
//           dP = dO . v^T, dS = P * (dP - rowsum(dP * P)), dQ = dS . k, dK = dS^T . q, dV = P^T . dO.
// The forward runs in parallel over (slice, row block); the backward over slices, each slice's row
// blocks in order on one thread, so dK and dV sums have a fixed order: results repeat run to run and
// at any thread count. The softmax is rows.cc's own (row_softmax.h), so fused and unfused round alike.
//
// Layout: q, k, v, dO, O, dQ, dK and dV are bh slices of T rows, each slice either contiguous
// ([.., H, T, d], heads = 0) or one head of a [B, T, H, d] array (heads = H: slice s is head s % H of batch
// s / H, rows H * d apart), so the head split and merge around attention need no transposes. The
// arithmetic is the same in both layouts: only where a row starts changes.
//
// Measured (CPU time, 1 thread, 32 slices of t 256, dh 64, the tiny/small presets' heads): forward
// 6.4 ms fused vs 8.9 ms for the unfused chain; forward + backward 19.8 ms recomputing P vs 18.3 ms
// saving it (writing it out and reading it back). The fusion pass recomputes: ~1.5 ms a layer is ~1% of
// a tiny training step, while saving P costs bh * t * t floats a layer (8 MiB; 32 MiB of tiny's
// predicted 214 MiB peak) and grows with t squared. Row blocks of 32 and 128 measured no faster than 64.
#include <algorithm>
#include <cstring>

#include "gemm.h"
#include "kernels.h"
#include "row_softmax.h"
#include "vmath.h"

namespace rankfuse {
namespace {

using vm::vf;
constexpr int64_t kBlock = 64;  // query rows per block: a 64 x 256 score block is 64 KiB

thread_local AlignedBuffer t_scores, t_grads;

// Where slice s of a bh x T x d operand starts, and its row stride, in either layout.
struct Slices {
  int64_t T, heads;
  int64_t at(int64_t s, int64_t d) const { return heads > 0 ? ((s / heads) * T * heads + s % heads) * d : s * T * d; }
  int64_t ld(int64_t d) const { return heads > 0 ? heads * d : d; }
};

// P (m x n, ld n) of query rows [i0, i0 + m) over keys [0, n) of one slice (rows ld apart): q . k^T, then
// softmax.
void probsBlock(const float* q, const float* k, float* p, int64_t i0, int64_t m, int64_t n, int64_t dk, int64_t ld) {
  gemmSerial(View{q + i0 * ld, ld, 1}, View{k, 1, ld}, p, n, m, dk, n, false);
  for (int64_t r = 0; r < m; ++r) rowsoftmax::softmaxRow(p + r * n, p + r * n, i0 + r + 1, n);
}

}  // namespace

void attentionForward(const float* q, const float* k, const float* v, float* o, float* pOut, int64_t bh, int64_t T,
                      int64_t dk, int64_t dv, int64_t heads) {
  if (bh == 0 || T == 0) return;
  const Slices L{T, heads};
  const int64_t ldk = L.ld(dk), ldv = L.ld(dv);
  const int64_t blocks = (T + kBlock - 1) / kBlock, tasks = bh * blocks;
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && bh * T * T * (dk + dv) > 65536)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t s = task / blocks, blk = blocks - 1 - task % blocks;  // the longest blocks first
    const int64_t i0 = blk * kBlock, m = std::min(kBlock, T - i0), n = i0 + m;
    const float* qs = q + L.at(s, dk);
    const float* ks = k + L.at(s, dk);
    float* p = t_scores.get(static_cast<size_t>(kBlock * T));
    probsBlock(qs, ks, p, i0, m, n, dk, ldk);
    if (pOut)
      for (int64_t r = 0; r < m; ++r) {
        float* dst = pOut + (s * T + i0 + r) * T;
        std::memcpy(dst, p + r * n, sizeof(float) * n);
        std::fill(dst + n, dst + T, 0.0f);
      }
    gemmSerial(View{p, n, 1}, View{v + L.at(s, dv), ldv, 1}, o + L.at(s, dv) + i0 * ldv, ldv, m, n, dv, false);
  }
}

void attentionBackward(const float* q, const float* k, const float* v, const float* dO, const float* P, float* dQ,
                       float* dK, float* dV, int64_t bh, int64_t T, int64_t dk, int64_t dv, int64_t heads) {
  if (dK) fill(dK, bh * T * dk, 0.0f);
  if (dV) fill(dV, bh * T * dv, 0.0f);
  if (bh == 0 || T == 0) return;
  const Slices L{T, heads};
  const int64_t ldk = L.ld(dk), ldv = L.ld(dv);
#pragma omp parallel for schedule(dynamic, 1) if (bh > 1 && bh * T * T * (dk + dv) > 65536)
  for (int64_t s = 0; s < bh; ++s) {
    const float* qs = q + L.at(s, dk);
    const float* ks = k + L.at(s, dk);
    const float* vs = v + L.at(s, dv);
    const float* dOs = dO + L.at(s, dv);
    float* pb = t_scores.get(static_cast<size_t>(kBlock * T));
    float* ds = t_grads.get(static_cast<size_t>(kBlock * T));
    for (int64_t i0 = 0; i0 < T; i0 += kBlock) {
      const int64_t m = std::min(kBlock, T - i0), n = i0 + m;
      // P of the block, ld n: read from the forward's (ld T), or recomputed
      if (P)
        for (int64_t r = 0; r < m; ++r) std::memcpy(pb + r * n, P + (s * T + i0 + r) * T, sizeof(float) * n);
      else probsBlock(qs, ks, pb, i0, m, n, dk, ldk);
      // dP = dO . v^T, then dS = P * (dP - rowsum(dP * P)) in place (zero above the diagonal: P is)
      gemmSerial(View{dOs + i0 * ldv, ldv, 1}, View{vs, 1, ldv}, ds, n, m, dv, n, false);
      for (int64_t r = 0; r < m; ++r) {
        float* d = ds + r * n;
        const float* p = pb + r * n;
        vf acc = vm::splat(0.0f);
        int64_t j = 0;
        for (; j + vm::kLanes <= n; j += vm::kLanes) acc += vm::load(d + j) * vm::load(p + j);
        float sum = 0.0f;
        for (; j < n; ++j) sum += d[j] * p[j];
        for (int l = 0; l < vm::kLanes; ++l) sum += acc[l];
        for (j = 0; j < n; ++j) d[j] = p[j] * (d[j] - sum);
      }
      if (dQ) gemmSerial(View{ds, n, 1}, View{ks, ldk, 1}, dQ + L.at(s, dk) + i0 * ldk, ldk, m, n, dk, false);
      if (dK) gemmSerial(View{ds, 1, n}, View{qs + i0 * ldk, ldk, 1}, dK + L.at(s, dk), ldk, n, m, dk, true);
      if (dV) gemmSerial(View{pb, 1, n}, View{dOs + i0 * ldv, ldv, 1}, dV + L.at(s, dv), ldv, n, m, dv, true);
    }
  }
}

}  // namespace rankfuse
