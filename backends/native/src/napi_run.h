// How an N-API entry point runs a kernel: denormals flushed, C++ exceptions turned into JS errors.
#pragma once
#include <node_api.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <exception>
#include <string>

namespace rankfuse {

// Runs a kernel, turning a C++ exception (allocation failure) into a JS Error. Kernels run with
// denormals flushed to zero (FTZ/DAZ): tiny gradients late in training are otherwise subnormal, and
// subnormal arithmetic is ~100x slower on x86 (a full-rank run lost half its speed by step 200).
// OpenMP's worker threads inherit the setting when created; the caller's own mode is restored, so
// JavaScript's arithmetic is untouched. `exact` kernels (the optimizer's loop) keep IEEE subnormals.
template <class F>
napi_value runKernel(napi_env env, F f, bool exact = false) {
#if defined(__SSE__)
  const unsigned saved = _mm_getcsr();
  if (!exact) _mm_setcsr(saved | 0x8040);  // FTZ | DAZ
#endif
  try {
    f();
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, (std::string("rankfuse native: ") + e.what()).c_str());
  }
#if defined(__SSE__)
  _mm_setcsr(saved);
#endif
  return nullptr;
}

}  // namespace rankfuse
