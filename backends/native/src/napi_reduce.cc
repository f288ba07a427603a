// JS entry point of reduce.cc: sum, max or mean over the axes a mask selects.
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value Reduce(napi_env env, napi_callback_info info) {
  Args a(env, info, "reduce", 5);
  const int64_t op = a.size(0);
  const auto x = a.f32(1), out = a.f32(2);
  int64_t shape[kMaxRank];
  size_t rank = 0;
  a.dims(3, shape, &rank, "shape");
  const auto mask = a.i32(4);
  a.require(mask.len == rank, "reduceMask and shape differ in length") && a.knownOp(op, kReduceCount);
  uint64_t kept = 1;
  for (size_t k = 0; k < rank && a.ok(); ++k)
    if (!mask.p[k]) kept = mulSat(kept, static_cast<uint64_t>(shape[k]));
  a.need(x, a.ok() ? elements(shape, rank) : 0) && a.need(out, kept);
  return a.run([&] { reduce(static_cast<int>(op), x.p, out.p, static_cast<int>(rank), shape, mask.p); });
}

}  // namespace

bool defineReduce(napi_env env, napi_value exports) { return defineAll(env, exports, {{"reduce", Reduce}}); }

}  // namespace rankfuse
