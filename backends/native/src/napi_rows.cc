// JS entry points of rows.cc: the row-wise kernels over the last axis.
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value Softmax(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmax", 5);
  const auto x = a.f32(0), out = a.f32(1);
  const int64_t rows = a.size(2), width = a.size(3), causalT = a.size(4);
  a.need(x, prod({rows, width})) && a.need(out, prod({rows, width}));
  return a.run([&] { softmax(x.p, out.p, rows, width, causalT); });
}

napi_value LogSoftmax(napi_env env, napi_callback_info info) {
  Args a(env, info, "logSoftmax", 4);
  const auto x = a.f32(0), out = a.f32(1);
  const int64_t rows = a.size(2), width = a.size(3);
  a.need(x, prod({rows, width})) && a.need(out, prod({rows, width}));
  return a.run([&] { logSoftmax(x.p, out.p, rows, width); });
}

napi_value Rmsnorm(napi_env env, napi_callback_info info) {
  Args a(env, info, "rmsnorm", 6);
  const auto x = a.f32(0), w = a.f32(1), out = a.f32(2);
  const int64_t rows = a.size(3), width = a.size(4);
  const double eps = a.number(5);
  a.need(x, prod({rows, width})) && a.need(w, prod({width})) && a.need(out, prod({rows, width}));
  return a.run([&] { rmsnorm(x.p, w.p, out.p, rows, width, static_cast<float>(eps)); });
}

napi_value Rope(napi_env env, napi_callback_info info) {
  Args a(env, info, "rope", 7);
  const auto x = a.f32(0), out = a.f32(1);
  const int64_t rows = a.size(2), T = a.size(3), Dh = a.size(4);
  const double base = a.number(5);
  const bool inverse = a.boolean(6);
  a.require(rows == 0 || T > 0, "T must be positive") && a.need(x, prod({rows, Dh})) && a.need(out, prod({rows, Dh}));
  return a.run([&] { rope(x.p, out.p, rows, T, Dh, base, inverse); });
}

napi_value RopeHeads(napi_env env, napi_callback_info info) {
  Args a(env, info, "ropeHeads", 6);
  const auto x = a.f32(0), out = a.f32(1);
  int64_t d[5] = {};
  a.sizes(2, d, 5, 5, "[rows, T, H, Dh, scaleAt + 1]");
  const double base = a.number(3);
  const bool inverse = a.boolean(4);
  const double scale = a.number(5);
  const int64_t rows = d[0], T = d[1], H = d[2], Dh = d[3];
  const int scaleAt = static_cast<int>(d[4]) - 1;
  a.require(rows == 0 || (T > 0 && H > 0), "T and H must be positive") && a.need(x, prod({rows, Dh})) &&
      a.need(out, prod({rows, Dh}));
  return a.run([&] { ropeHeads(x.p, out.p, rows, T, H, Dh, base, inverse, static_cast<float>(scale), scaleAt); });
}

napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  Args a(env, info, "crossEntropy", 5);
  const auto logits = a.f32(0);
  const auto targets = a.i32(1);
  const auto out = a.f32(2);
  const int64_t rows = a.size(3), V = a.size(4);
  a.need(logits, prod({rows, V})) && a.need(targets, prod({rows})) && a.need(out, prod({rows}));
  int64_t bad = -1;
  a.run([&] { bad = crossEntropy(logits.p, targets.p, out.p, rows, V); });
  a.idsInRange(bad, targets.p, V, "target", "row");
  return nullptr;
}

}  // namespace

bool defineRows(napi_env env, napi_value exports) {
  return defineAll(env, exports,
                   {{"softmax", Softmax},
                    {"logSoftmax", LogSoftmax},
                    {"rmsnorm", Rmsnorm},
                    {"rope", Rope},
                    {"ropeHeads", RopeHeads},
                    {"crossEntropy", CrossEntropy}});
}

}  // namespace rankfuse
