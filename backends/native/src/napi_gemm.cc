// JS entry points of gemm.cc: matmul, the OpenMP thread count and the GEMM micro-kernel choice.
#include "kernels.h"
#include "napi_args.h"
#include "napi_bindings.h"

namespace rankfuse {
namespace {

napi_value Matmul(napi_env env, napi_callback_info info) {
  Args a(env, info, "matmul", 10);
  const auto A = a.f32(0), B = a.f32(1), C = a.f32(2);
  const int64_t batch = a.size(3), M = a.size(4), K = a.size(5), N = a.size(6);
  const bool shared = a.boolean(7), transA = a.boolean(8), transB = a.boolean(9);
  a.need(A, prod({batch, M, K})) && a.need(B, prod({shared ? 1 : batch, K, N})) && a.need(C, prod({batch, M, N}));
  return a.run([&] { matmul(A.p, B.p, C.p, batch, M, K, N, shared, transA, transB); });
}

// matmulAdd(a, b, init, out, batch, M, K, N, shared, transA, transB): out = init + op(a) . op(b).
napi_value MatmulAdd(napi_env env, napi_callback_info info) {
  Args a(env, info, "matmulAdd", 11);
  const auto A = a.f32(0), B = a.f32(1), I = a.f32(2), C = a.f32(3);
  const int64_t batch = a.size(4), M = a.size(5), K = a.size(6), N = a.size(7);
  const bool shared = a.boolean(8), transA = a.boolean(9), transB = a.boolean(10);
  a.need(A, prod({batch, M, K})) && a.need(B, prod({shared ? 1 : batch, K, N})) && a.need(I, prod({batch, M, N})) &&
      a.need(C, prod({batch, M, N}));
  return a.run([&] { matmul(A.p, B.p, C.p, batch, M, K, N, shared, transA, transB, I.p); });
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, maxThreads(), &v);
  return v;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, "setThreads", 1);
  const int64_t n = a.size(0);
  if (!a.require(n >= 1 && n <= 1024, "thread count must be in [1, 1024]")) return nullptr;
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(n));
#endif
  return nullptr;
}

napi_value GemmKernel(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_string_utf8(env, gemmKernelName(), NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value SetGemmKernel(napi_env env, napi_callback_info info) {
  Args a(env, info, "setGemmKernel", 1);
  char name[32] = {};
  if (!a.string(0, name, sizeof name)) return nullptr;
  napi_value v;
  napi_get_boolean(env, setGemmKernel(name), &v);
  return v;
}

}  // namespace

bool defineGemm(napi_env env, napi_value exports) {
  return defineAll(env, exports,
                   {{"matmul", Matmul},
                    {"matmulAdd", MatmulAdd},
                    {"threads", Threads},
                    {"setThreads", SetThreads},
                    {"gemmKernel", GemmKernel},
                    {"setGemmKernel", SetGemmKernel}});
}

}  // namespace rankfuse
