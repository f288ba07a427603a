// Row-wise kernels over the last axis: softmax (optionally causal), logSoftmax, rmsnorm, rope and
// cross-entropy. Rows are independent and run in parallel; each row is vectorized with vmath.h.
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels.h"
#include "row_softmax.h"
#include "vmath.h"

namespace rankfuse {
namespace {

using rowsoftmax::expShiftSum;
using rowsoftmax::rowMax;

// Rows per parallel chunk so that each chunk is ~8K elements.
inline int64_t rowChunk(int64_t width) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(1, width)); }

struct RopeTable {
  int64_t T, half, Dh;
  double base;
  std::vector<float> cos, sin;  // [T][half]
};

std::shared_ptr<const RopeTable> ropeTable(int64_t T, int64_t Dh, double base) {
  static std::mutex mu;
  static std::vector<std::shared_ptr<const RopeTable>> cache;  // most recent last
  std::lock_guard<std::mutex> lock(mu);
  for (auto& t : cache)
    if (t->T == T && t->Dh == Dh && t->base == base) return t;
  auto t = std::make_shared<RopeTable>();
  t->T = T;
  t->Dh = Dh;
  t->half = Dh / 2;
  t->base = base;
  t->cos.resize(static_cast<size_t>(T * t->half));
  t->sin.resize(static_cast<size_t>(T * t->half));
  std::vector<double> freq(static_cast<size_t>(t->half));
  for (int64_t i = 0; i < t->half; ++i) freq[i] = std::pow(base, (-2.0 * static_cast<double>(i)) / static_cast<double>(Dh));
#pragma omp parallel for schedule(static) if (T * t->half > 16384)
  for (int64_t p = 0; p < T; ++p)
    for (int64_t i = 0; i < t->half; ++i) {
      const double theta = static_cast<double>(p) * freq[i];
      t->cos[p * t->half + i] = static_cast<float>(std::cos(theta));
      t->sin[p * t->half + i] = static_cast<float>(std::sin(theta));
    }
  if (cache.size() >= 8) cache.erase(cache.begin());
  cache.push_back(t);
  return t;
}

}  // namespace

void softmax(const float* x, float* out, int64_t rows, int64_t width, int64_t causalT) {
#pragma omp parallel for schedule(dynamic, rowChunk(width)) if (rows * width > kParallelElems)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    float* o = out + r * width;
    const int64_t live = causalT > 0 ? std::min(width, r % causalT + 1) : width;
    rowsoftmax::softmaxRow(xr, o, live, width);
  }
}

void logSoftmax(const float* x, float* out, int64_t rows, int64_t width) {
#pragma omp parallel for schedule(dynamic, rowChunk(width)) if (rows * width > kParallelElems)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    float* o = out + r * width;
    const float m = rowMax(xr, width);
    const float lse = static_cast<float>(static_cast<double>(m) + std::log(expShiftSum(xr, nullptr, width, m)));
    for (int64_t j = 0; j < width; ++j) o[j] = xr[j] - lse;
  }
}

void rmsnorm(const float* x, const float* w, float* out, int64_t rows, int64_t width, float eps) {
#pragma omp parallel for schedule(dynamic, rowChunk(width)) if (rows * width > kParallelElems)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    float* o = out + r * width;
    double lanes[8] = {};
    int64_t j = 0;
    for (; j + 8 <= width; j += 8)
      for (int l = 0; l < 8; ++l) lanes[l] += static_cast<double>(xr[j + l]) * xr[j + l];
    double ss = 0;
    for (int l = 0; l < 8; ++l) ss += lanes[l];
    for (; j < width; ++j) ss += static_cast<double>(xr[j]) * xr[j];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(width) + eps));
    for (j = 0; j < width; ++j) o[j] = xr[j] * inv * w[j];
  }
}

void rope(const float* x, float* out, int64_t rows, int64_t T, int64_t Dh, double base, bool inverse) {
  if (rows == 0 || Dh == 0 || T == 0) return;
  const auto table = ropeTable(T, Dh, base);
  const int64_t half = table->half;
  const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(dynamic, rowChunk(Dh)) if (rows * Dh > kParallelElems)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = r % T;
    const float* xr = x + r * Dh;
    float* o = out + r * Dh;
    const float* c = table->cos.data() + t * half;
    const float* s = table->sin.data() + t * half;
    for (int64_t i = 0; i < half; ++i) {
      const float x1 = xr[i], x2 = xr[i + half], si = sign * s[i];
      o[i] = x1 * c[i] - x2 * si;
      o[i + half] = x2 * c[i] + x1 * si;
    }
    if (Dh % 2) o[Dh - 1] = xr[Dh - 1];
  }
}

void ropeHeads(const float* x, float* out, int64_t rows, int64_t T, int64_t H, int64_t Dh, double base, bool inverse,
               float scale, int scaleAt) {
  if (rows == 0 || Dh == 0 || T == 0 || H == 0) return;
  const auto table = ropeTable(T, Dh, base);
  const int64_t half = table->half;
  const float sign = inverse ? -1.0f : 1.0f;
  const float pre = scaleAt < 0 ? scale : 1.0f;
#pragma omp parallel for schedule(dynamic, rowChunk(Dh)) if (rows * Dh > kParallelElems)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = (r / H) % T;
    const float* xr = x + r * Dh;
    float* o = out + r * Dh;
    const float* c = table->cos.data() + t * half;
    const float* s = table->sin.data() + t * half;
    for (int64_t i = 0; i < half; ++i) {
      // the scale multiplies x (before) or the rotated value (after), each rounded as its own mul would be
      const float x1 = scaleAt < 0 ? xr[i] * pre : xr[i], x2 = scaleAt < 0 ? xr[i + half] * pre : xr[i + half];
      const float si = sign * s[i];
      const float a = x1 * c[i] - x2 * si, b = x2 * c[i] + x1 * si;
      o[i] = scaleAt > 0 ? a * scale : a;
      o[i + half] = scaleAt > 0 ? b * scale : b;
    }
    if (Dh % 2) o[Dh - 1] = scaleAt != 0 ? xr[Dh - 1] * scale : xr[Dh - 1];
  }
}

int64_t crossEntropy(const float* logits, const int32_t* targets, float* out, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= V) return r;
#pragma omp parallel for schedule(dynamic, rowChunk(V)) if (rows * V > kParallelElems)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = logits + r * V;
    const float m = rowMax(xr, V);
    const double lse = static_cast<double>(m) + std::log(expShiftSum(xr, nullptr, V, m));
    out[r] = static_cast<float>(lse - static_cast<double>(xr[targets[r]]));
  }
  return -1;
}

}  // namespace rankfuse
