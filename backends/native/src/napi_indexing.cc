// JS entry points of indexing.cc: embedding gather, its scatter-add backward and one-hot rows.
// Ids are checked by the kernels themselves; the first out-of-range one becomes a RangeError.
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

// gather (table -> n rows) and scatterAdd (n rows -> table) take the same arguments (src, ids, dst, V, D),
// with the V x D table on either side.
using ByIdsKernel = int64_t (*)(const float*, const int32_t*, float*, int64_t, int64_t, int64_t);

napi_value byIds(napi_env env, napi_callback_info info, const char* fn, ByIdsKernel kernel, bool tableIsSrc) {
  Args a(env, info, fn, 5);
  const auto src = a.f32(0);
  const auto ids = a.i32(1);
  const auto dst = a.f32(2);
  const int64_t V = a.size(3), D = a.size(4), n = static_cast<int64_t>(ids.len);
  const uint64_t table = prod({V, D}), rows = prod({n, D});
  a.need(src, tableIsSrc ? table : rows) && a.need(dst, tableIsSrc ? rows : table);
  int64_t bad = -1;
  a.run([&] { bad = kernel(src.p, ids.p, dst.p, n, V, D); });
  a.idsInRange(bad, ids.p, V, "id", "position");
  return nullptr;
}

napi_value Gather(napi_env env, napi_callback_info info) { return byIds(env, info, "gather", gather, true); }
napi_value ScatterAdd(napi_env env, napi_callback_info info) { return byIds(env, info, "scatterAdd", scatterAdd, false); }

napi_value OneHot(napi_env env, napi_callback_info info) {
  Args a(env, info, "oneHot", 3);
  const auto ids = a.i32(0);
  const auto out = a.f32(1);
  const int64_t depth = a.size(2), n = static_cast<int64_t>(ids.len);
  a.need(out, prod({n, depth}));
  return a.run([&] { oneHot(ids.p, out.p, n, depth); });
}

}  // namespace

bool defineIndexing(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"gather", Gather}, {"scatterAdd", ScatterAdd}, {"oneHot", OneHot}});
}

}  // namespace rankfuse
