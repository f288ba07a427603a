// JS entry points of elementwise.cc: unary and binary ops (binary with strided broadcasting) and fill.
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value Unary(napi_env env, napi_callback_info info) {
  Args a(env, info, "unary", 3);
  const int64_t op = a.size(0);
  const auto x = a.f32(1), out = a.f32(2);
  a.need(out, x.len) && a.knownOp(op, kUnaryCount);
  return a.run([&] { unary(static_cast<int>(op), x.p, out.p, static_cast<int64_t>(x.len)); });
}

napi_value Binary(napi_env env, napi_callback_info info) {
  Args a(env, info, "binary", 7);
  const int64_t op = a.size(0);
  const auto x = a.f32(1), y = a.f32(2), out = a.f32(3);
  int64_t shape[kMaxRank], xs[kMaxRank], ys[kMaxRank];
  size_t r0 = 0, r1 = 0, r2 = 0;
  a.dims(4, shape, &r0, "outShape") && a.dims(5, xs, &r1, "xStrides") && a.dims(6, ys, &r2, "yStrides") &&
      a.require(r1 == r0 && r2 == r0, "outShape, xStrides and yStrides differ in length") && a.knownOp(op, kBinaryCount);
  const uint64_t total = a.ok() ? elements(shape, r0) : 0;
  a.need(out, total) && a.stridedFits(x, shape, xs, r0) && a.stridedFits(y, shape, ys, r0);
  if (total == 0) return nullptr;
  return a.run([&] { binary(static_cast<int>(op), x.p, y.p, out.p, static_cast<int>(r0), shape, xs, ys); });
}

napi_value Fill(napi_env env, napi_callback_info info) {
  Args a(env, info, "fill", 2);
  const auto out = a.f32(0);
  const double value = a.number(1);
  return a.run([&] { fill(out.p, static_cast<int64_t>(out.len), static_cast<float>(value)); });
}

}  // namespace

bool defineElementwise(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"unary", Unary}, {"binary", Binary}, {"fill", Fill}});
}

}  // namespace rankfuse
