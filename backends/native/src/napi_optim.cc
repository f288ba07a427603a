// JS entry points of optim.cc: the AdamW update in place and the sum of squares (gradient clipping).
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value AdamwStep(napi_env env, napi_callback_info info) {
  Args a(env, info, "adamwStep", 10);
  const auto p = a.f32(0), g = a.f32(1), m = a.f32(2), v = a.f32(3);
  const double b1 = a.number(4), b2 = a.number(5), eps = a.number(6), decay = a.number(7), stepSize = a.number(8),
               sqrtBc2 = a.number(9);
  const int64_t n = static_cast<int64_t>(p.len);
  a.need(g, n) && a.need(m, n) && a.need(v, n);
  // exact: the update must match train/adamw.ts bit for bit, subnormals included
  return a.run([&] { adamwStep(p.p, g.p, m.p, v.p, n, b1, b2, eps, decay, stepSize, sqrtBc2); }, true);
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumSquares", 1);
  const auto x = a.f32(0);
  if (!a.ok()) return nullptr;
  napi_value v;
  napi_create_double(env, sumSquares(x.p, static_cast<int64_t>(x.len)), &v);
  return v;
}

}  // namespace

bool defineOptim(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"adamwStep", AdamwStep}, {"sumSquares", SumSquares}});
}

}  // namespace rankfuse
