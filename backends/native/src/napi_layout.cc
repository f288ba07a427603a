// JS entry points of the kernels that only move 4-byte words (Float32Array or Int32Array): transpose
// (transpose.cc) and broadcastTo (elementwise.cc).
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value Transpose(napi_env env, napi_callback_info info) {
  Args a(env, info, "transpose", 4);
  const auto x = a.words(0), out = a.words(1);
  int64_t shape[kMaxRank];
  size_t rank = 0;
  a.dims(2, shape, &rank, "shape");
  const auto perm = a.i32(3);
  a.require(perm.len == rank, "perm and shape differ in length");
  bool seen[kMaxRank] = {};
  for (size_t k = 0; k < perm.len && a.ok(); ++k) {
    const int32_t p = perm.p[k];
    if (a.require(p >= 0 && static_cast<size_t>(p) < rank && !seen[p], "perm is not a permutation")) seen[p] = true;
  }
  const uint64_t total = a.ok() ? elements(shape, rank) : 0;
  a.need(x, total) && a.need(out, total);
  return a.run([&] { transpose(x.p, out.p, static_cast<int>(rank), shape, perm.p); });
}

napi_value BroadcastTo(napi_env env, napi_callback_info info) {
  Args a(env, info, "broadcastTo", 4);
  const auto x = a.words(0), out = a.words(1);
  int64_t shape[kMaxRank], xs[kMaxRank];
  size_t r0 = 0, r1 = 0;
  a.dims(2, shape, &r0, "outShape") && a.dims(3, xs, &r1, "xStrides") &&
      a.require(r1 == r0, "outShape and xStrides differ in length");
  const uint64_t total = a.ok() ? elements(shape, r0) : 0;
  a.need(out, total) && a.stridedFits(x, shape, xs, r0);
  if (total == 0) return nullptr;
  return a.run([&] { broadcastTo(x.p, out.p, static_cast<int>(r0), shape, xs); });
}

}  // namespace

bool defineLayout(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"transpose", Transpose}, {"broadcastTo", BroadcastTo}});
}

}  // namespace rankfuse
