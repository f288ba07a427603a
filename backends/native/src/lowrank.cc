// Fused low-rank (CoLA) chains, one tile of rows at a time, so the n x r intermediates are never
// materialized: each thread keeps its tile's rank-r block (tile x r floats) in a small cache-resident
// buffer. The right-hand sides (A, B, and their transposes) are packed once per call and shared.
//
// Forward:  y = act(x . A) . B  [+ e | * e]; z = x . A and h = act(z) are written out only when asked.
// Tail:     y = act(x) . B  [+ e | * e], the next link of a longer chain: x is already rank r wide.
// Backward: dZ = (dY . B^T) * act'(z); dX = dZ . A^T [+ acc]; dA = x^T . dZ; dB = h^T . dY.
// dA and dB are sums over every row: each thread accumulates its own contiguous range of tiles into a
// private partial, and the partials are added in thread order, so results repeat run to run.
#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "kernels.h"

namespace rankfuse {
namespace {
thread_local AlignedBuffer t_tile, t_dact;
AlignedBuffer& packBuffer(int which) {
  thread_local AlignedBuffer b[2];
  return b[which];
}
// Rows per tile: the rank-r block stays near 64 KiB (L2-resident), a whole number of micro-kernel rows.
int64_t tileRowsFor(int64_t r, int64_t mr, int64_t atLeast) {
  const int64_t rows = std::max<int64_t>(atLeast, (16384 / std::max<int64_t>(r, 1)) / mr * mr);
  return std::min<int64_t>(rows, 512);
}

// The forward tile loop; with `first` false there is no first product: z = x (dIn == r).
void forwardTiles(const float* x, const float* A, const float* B, const float* e, int epilogue, float* out, float* zOut,
                  float* hOut, int64_t n, int64_t dIn, int64_t r, int64_t dOut, int act, bool first) {
  if (n == 0) return;
  const bool zEmpty = r == 0 || dIn == 0, yEmpty = r == 0 || dOut == 0;
  PackedB pa{}, pb{};
  if (first && !zEmpty) pa = packB(A, r, dIn, r, packBuffer(0).get(static_cast<size_t>(packedBSize(dIn, r))), true);
  if (!yEmpty) pb = packB(B, dOut, r, dOut, packBuffer(1).get(static_cast<size_t>(packedBSize(r, dOut))), true);
  const int64_t mr = activeMicroKernel().mr;
  const int64_t tileRows = tileRowsFor(r, mr, 8 * mr);
  const int64_t tiles = (n + tileRows - 1) / tileRows;
#pragma omp parallel for schedule(dynamic, 1) if (tiles > 1 && n * (dIn + dOut) * r > 65536)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t i0 = t * tileRows, m = std::min(tileRows, n - i0);
    float* z = t_tile.get(static_cast<size_t>(tileRows * std::max<int64_t>(r, 1)));
    float* y = out + i0 * dOut;
    const float* et = e ? e + i0 * dOut : nullptr;
    if (!first) {
      if (r > 0) std::memcpy(z, x + i0 * r, sizeof(float) * m * r);
    }
    else if (zEmpty) std::fill(z, z + m * r, 0.0f);
    else gemmPackedSerial(x + i0 * dIn, dIn, pa, z, r, m, false);
    if (zOut) std::memcpy(zOut + i0 * r, z, sizeof(float) * m * r);
    if (act != 0) unaryBlock(act, z, m * r);
    if (hOut) std::memcpy(hOut + i0 * r, z, sizeof(float) * m * r);
    const bool residual = epilogue == kAdd && et;
    if (residual) std::memcpy(y, et, sizeof(float) * m * dOut);
    if (yEmpty) {
      if (!residual) std::fill(y, y + m * dOut, 0.0f);
    } else gemmPackedSerial(z, r, pb, y, dOut, m, residual);
    if (epilogue == kMul && et)
      for (int64_t i = 0; i < m * dOut; ++i) y[i] *= et[i];
  }
}
}  // namespace

void lowrankForwardEx(const float* x, const float* A, const float* B, const float* e, int epilogue, float* out,
                      float* zOut, float* hOut, int64_t n, int64_t dIn, int64_t r, int64_t dOut, int act) {
  forwardTiles(x, A, B, e, epilogue, out, zOut, hOut, n, dIn, r, dOut, act, true);
}

void lowrankTailForward(const float* x, const float* B, const float* e, int epilogue, float* out, float* hOut,
                        int64_t n, int64_t r, int64_t dOut, int act) {
  forwardTiles(x, nullptr, B, e, epilogue, out, nullptr, hOut, n, r, r, dOut, act, false);
}

void lowrankForward(const float* x, const float* A, const float* B, float* out, int64_t n, int64_t dIn, int64_t r,
                    int64_t dOut, int act) {
  lowrankForwardEx(x, A, B, nullptr, -1, out, nullptr, nullptr, n, dIn, r, dOut, act);
}

void lowrankBackward(const float* dY, const float* B, const float* z, const float* A, const float* acc, const float* x,
                     const float* h, float* dX, float* dA, float* dB, float* dZout, int64_t n, int64_t dIn, int64_t r,
                     int64_t dOut, int act) {
  if (dA) fill(dA, dIn * r, 0.0f);
  if (dB) fill(dB, r * dOut, 0.0f);
  if (n == 0) return;
  if (r == 0) {  // dZ is empty: dX is acc or zero
    if (dX && acc) std::memcpy(dX, acc, sizeof(float) * n * dIn);
    else if (dX) fill(dX, n * dIn, 0.0f);
    return;
  }
  // dH = dY . B^T with B stored r x dOut; dX = dZ . A^T with A stored dIn x r
  PackedB pbt{}, pat{};
  if (dOut > 0) pbt = packB(View{B, 1, dOut}, dOut, r, packBuffer(0).get(static_cast<size_t>(packedBSize(dOut, r))), true);
  if (dX && dIn > 0) pat = packB(View{A, 1, r}, r, dIn, packBuffer(1).get(static_cast<size_t>(packedBSize(r, dIn))), true);
  const int64_t mr = activeMicroKernel().mr;
  const int64_t tileRows = tileRowsFor(r, mr, 64);
  const int64_t tiles = (n + tileRows - 1) / tileRows;
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(maxThreads(), tiles)));
  const int64_t sizeA = dA ? dIn * r : 0, sizeB = dB ? r * dOut : 0;
  std::vector<float*> partial(static_cast<size_t>(threads), nullptr);
  int used = 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = threadId(), p = teamSize();
#pragma omp single
    used = p;
    thread_local AlignedBuffer t_partial;
    float* part = t_partial.get(static_cast<size_t>(sizeA + sizeB + 1));
    std::fill(part, part + sizeA + sizeB, 0.0f);
    partial[static_cast<size_t>(t)] = part;
    float* dz = t_tile.get(static_cast<size_t>(tileRows * r));
    float* da = t_dact.get(static_cast<size_t>(tileRows * r));
    for (int64_t tile = tiles * t / p; tile < tiles * (t + 1) / p; ++tile) {
      const int64_t i0 = tile * tileRows, m = std::min(tileRows, n - i0);
      const float* dy = dY + i0 * dOut;
      if (dOut == 0) std::fill(dz, dz + m * r, 0.0f);
      else gemmPackedSerial(dy, dOut, pbt, dz, r, m, false);
      if (act != 0) {
        std::memcpy(da, z + i0 * r, sizeof(float) * m * r);
        unaryBlock(act + (kDsilu - kSilu), da, m * r);  // silu -> dsilu, gelu -> dgelu, relu -> drelu
        for (int64_t i = 0; i < m * r; ++i) dz[i] *= da[i];
      }
      if (dZout) std::memcpy(dZout + i0 * r, dz, sizeof(float) * m * r);
      if (dX && dIn > 0) {
        float* dx = dX + i0 * dIn;
        if (acc) std::memcpy(dx, acc + i0 * dIn, sizeof(float) * m * dIn);
        gemmPackedSerial(dz, r, pat, dx, dIn, m, acc != nullptr);
      }
      if (dA && dIn > 0) gemmSerial(View{x + i0 * dIn, 1, dIn}, View{dz, r, 1}, part, r, dIn, m, r, true);
      if (dB && dOut > 0) gemmSerial(View{h + i0 * r, 1, r}, View{dy, dOut, 1}, part + sizeA, dOut, r, m, dOut, true);
    }
  }
  // partials in thread order: the same sums whatever the OpenMP schedule did
  const auto reduceInto = [&](float* dst, int64_t offset, int64_t size) {
#pragma omp parallel for schedule(static) if (size * threads > kParallelElems)
    for (int64_t i = 0; i < size; ++i) {
      float s = 0.0f;
      for (int t = 0; t < used; ++t) s += partial[static_cast<size_t>(t)][offset + i];
      dst[i] = s;
    }
  };
  if (dA) reduceInto(dA, 0, sizeA);
  if (dB) reduceInto(dB, sizeA, sizeB);
}

}  // namespace rankfuse
