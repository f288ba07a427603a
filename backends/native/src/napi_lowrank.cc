// JS entry points of lowrank.cc: the fused low-rank chain act(x . A) . B, the tail link act(x) . B of a
// longer chain, and their backward. The fused forms take optional buffers (a zero-length Float32Array
// means "not wanted", "not needed" or "no epilogue") and their sizes in one Int32Array: forward
// [n, dIn, r, dOut, act, epilogue], tail [n, r, dOut, act, epilogue], backward [n, dIn, r, dOut, act].
#include <string>

#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

bool validAct(Args& a, int64_t act) {
  if (act == 0 || act == kSilu || act == kGelu || act == kRelu) return a.ok();
  return a.rangeError("act must be 0 (identity), 6 (silu), 7 (gelu) or 8 (relu), got " + std::to_string(act));
}

napi_value LowrankForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankForward", 9);
  const auto x = a.f32(0), A = a.f32(1), B = a.f32(2), out = a.f32(3);
  const int64_t n = a.size(4), dIn = a.size(5), r = a.size(6), dOut = a.size(7), act = a.size(8);
  validAct(a, act) && a.need(x, prod({n, dIn})) && a.need(A, prod({dIn, r})) && a.need(B, prod({r, dOut})) &&
      a.need(out, prod({n, dOut}));
  return a.run([&] { lowrankForward(x.p, A.p, B.p, out.p, n, dIn, r, dOut, static_cast<int>(act)); });
}

napi_value LowrankForwardEx(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankForwardEx", 8);
  const auto x = a.f32(0), A = a.f32(1), B = a.f32(2), e = a.f32(3), out = a.f32(4), z = a.f32(5), h = a.f32(6);
  int64_t d[6] = {};
  a.sizes(7, d, 6, 4, "[n, dIn, r, dOut, act, epilogue]");
  const int64_t n = d[0], dIn = d[1], r = d[2], dOut = d[3], act = d[4], epi = d[5];
  a.require(!e.len || epi == kAdd || epi == kMul, "epilogue must be 0 (add) or 2 (mul)") && validAct(a, act) &&
      a.need(x, prod({n, dIn})) && a.need(A, prod({dIn, r})) && a.need(B, prod({r, dOut})) &&
      a.needOpt(e, prod({n, dOut})) && a.need(out, prod({n, dOut})) && a.needOpt(z, prod({n, r})) &&
      a.needOpt(h, prod({n, r}));
  return a.run([&] {
    lowrankForwardEx(x.p, A.p, B.p, e.get(), e.len ? static_cast<int>(epi) : -1, out.p, z.get(), h.get(), n, dIn, r,
                     dOut, static_cast<int>(act));
  });
}

napi_value LowrankTailForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankTailForward", 6);
  const auto x = a.f32(0), B = a.f32(1), e = a.f32(2), out = a.f32(3), h = a.f32(4);
  int64_t d[5] = {};
  a.sizes(5, d, 5, 3, "[n, r, dOut, act, epilogue]");
  const int64_t n = d[0], r = d[1], dOut = d[2], act = d[3], epi = d[4];
  a.require(!e.len || epi == kAdd || epi == kMul, "epilogue must be 0 (add) or 2 (mul)") && validAct(a, act) &&
      a.need(x, prod({n, r})) && a.need(B, prod({r, dOut})) && a.needOpt(e, prod({n, dOut})) &&
      a.need(out, prod({n, dOut})) && a.needOpt(h, prod({n, r}));
  return a.run([&] {
    lowrankTailForward(x.p, B.p, e.get(), e.len ? static_cast<int>(epi) : -1, out.p, h.get(), n, r, dOut,
                       static_cast<int>(act));
  });
}

napi_value LowrankBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "lowrankBackward", 12);
  const auto dY = a.f32(0), B = a.f32(1), z = a.f32(2), A = a.f32(3), acc = a.f32(4), x = a.f32(5), h = a.f32(6);
  const auto dX = a.f32(7), dA = a.f32(8), dB = a.f32(9), dZ = a.f32(10);
  int64_t d[5] = {};
  a.sizes(11, d, 5, 4, "[n, dIn, r, dOut, act]");
  const int64_t n = d[0], dIn = d[1], r = d[2], dOut = d[3], act = d[4];
  const uint64_t nr = prod({n, r});
  // inputs are needed only for the outputs that read them: z when act != 0, A for dX, x for dA, h for dB
  validAct(a, act) && a.need(dY, prod({n, dOut})) && a.need(B, prod({r, dOut})) && (act == 0 || a.need(z, nr)) &&
      (!dX.len || a.need(A, prod({dIn, r}))) && a.needOpt(acc, prod({n, dIn})) && (!dA.len || a.need(x, prod({n, dIn}))) &&
      (!dB.len || a.need(h, nr)) && a.needOpt(dX, prod({n, dIn})) && a.needOpt(dA, prod({dIn, r})) &&
      a.needOpt(dB, prod({r, dOut})) && a.needOpt(dZ, nr);
  return a.run([&] {
    lowrankBackward(dY.p, B.p, z.get(), A.get(), acc.get(), x.get(), h.get(), dX.get(), dA.get(), dB.get(), dZ.get(), n,
                    dIn, r, dOut, static_cast<int>(act));
  });
}

}  // namespace

bool defineLowrank(napi_env env, napi_value exports) {
  return defineAll(env, exports,
                   {{"lowrankForward", LowrankForward},
                    {"lowrankForwardEx", LowrankForwardEx},
                    {"lowrankTailForward", LowrankTailForward},
                    {"lowrankBackward", LowrankBackward}});
}

}  // namespace rankfuse
