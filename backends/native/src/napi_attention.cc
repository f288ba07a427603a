// JS entry points of attention.cc: fused causal attention; sizes [bh, T, dk, dv[, heads]] (heads > 0: the
// [B, T, heads, d] layout, see attention.cc). An empty P means
// "not wanted" (forward) or "recompute" (backward); an empty dQ, dK or dV is not computed.
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value AttentionForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionForward", 6);
  const auto q = a.f32(0), k = a.f32(1), v = a.f32(2), o = a.f32(3), p = a.f32(4);
  int64_t d[5] = {};
  a.sizes(5, d, a.i32(5).len > 4 ? 5 : 4, 4, "[bh, T, dk, dv[, heads]]");
  const int64_t bh = d[0], T = d[1], dk = d[2], dv = d[3], heads = d[4];
  a.need(q, prod({bh, T, dk})) && a.need(k, prod({bh, T, dk})) && a.need(v, prod({bh, T, dv})) &&
      a.need(o, prod({bh, T, dv})) && a.needOpt(p, prod({bh, T, T}));
  return a.run([&] { attentionForward(q.p, k.p, v.p, o.p, p.get(), bh, T, dk, dv, heads); });
}

napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionBackward", 9);
  const auto q = a.f32(0), k = a.f32(1), v = a.f32(2), dO = a.f32(3), P = a.f32(4);
  const auto dQ = a.f32(5), dK = a.f32(6), dV = a.f32(7);
  int64_t d[5] = {};
  a.sizes(8, d, a.i32(8).len > 4 ? 5 : 4, 4, "[bh, T, dk, dv[, heads]]");
  const int64_t bh = d[0], T = d[1], dk = d[2], dv = d[3], heads = d[4];
  const uint64_t nk = prod({bh, T, dk}), nv = prod({bh, T, dv});
  a.need(q, nk) && a.need(k, nk) && a.need(v, nv) && a.need(dO, nv) && a.needOpt(P, prod({bh, T, T})) &&
      a.needOpt(dQ, nk) && a.needOpt(dK, nk) && a.needOpt(dV, nv);
  return a.run([&] { attentionBackward(q.p, k.p, v.p, dO.p, P.get(), dQ.get(), dK.get(), dV.get(), bh, T, dk, dv, heads); });
}

}  // namespace

bool defineAttention(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"attentionForward", AttentionForward}, {"attentionBackward", AttentionBackward}});
}

}  // namespace rankfuse
