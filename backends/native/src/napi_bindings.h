// The addon's JavaScript functions, registered area by area: each napi_<area>.cc decodes and checks
// the arguments of its kernels (napi_args.h) and defines them on the module's exports. rankfuse.cc
// calls every define* below. The TypeScript side is backends/native/build.ts (interface NativeAddon).
#pragma once
#include <node_api.h>

#include <initializer_list>

namespace rankfuse {

struct Binding {
  const char* name;  // the JS-visible name
  napi_callback fn;
};

// Defines each binding as a function property of exports; false if N-API refused one.
inline bool defineAll(napi_env env, napi_value exports, std::initializer_list<Binding> bindings) {
  for (const Binding& b : bindings) {
    napi_value v;
    if (napi_create_function(env, b.name, NAPI_AUTO_LENGTH, b.fn, nullptr, &v) != napi_ok ||
        napi_set_named_property(env, exports, b.name, v) != napi_ok)
      return false;
  }
  return true;
}

bool defineGemm(napi_env env, napi_value exports);         // matmul, threads, GEMM micro-kernel choice
bool defineElementwise(napi_env env, napi_value exports);  // unary, binary, fill
bool defineLayout(napi_env env, napi_value exports);       // transpose, broadcastTo
bool defineReduce(napi_env env, napi_value exports);       // reduce
bool defineRows(napi_env env, napi_value exports);         // softmax, logSoftmax, rmsnorm, rope, crossEntropy
bool defineIndexing(napi_env env, napi_value exports);     // gather, scatterAdd, oneHot
bool defineLowrank(napi_env env, napi_value exports);      // lowrankForward(Ex), lowrankBackward
bool defineAttention(napi_env env, napi_value exports);    // attentionForward, attentionBackward
bool defineCodegen(napi_env env, napi_value exports);      // loadKernel, runKernel (generated kernels)

}  // namespace rankfuse
