// JS entry points for generated kernels (backends/native/codegen): loadKernel opens a compiled
// kernel library and returns its entry point as an opaque handle; runKernel calls it on Float32Array
// inputs and outputs with the loop's shape and strides (codegen.h's meta layout). An input may be an
// Int32Array (row kernels' targets): the kernel gets its bytes and reads them as int32_t.
#include <dlfcn.h>

#include <cstdint>
#include <string>
#include <vector>

#include "napi_bindings.h"
#include "napi_run.h"
#include "strided.h"

namespace rankfuse {
namespace {

typedef void (*GenKernel)(const float* const* in, float* const* out, const int64_t* meta);

napi_value fail(napi_env env, const std::string& msg, bool range = false) {
  if (range)
    napi_throw_range_error(env, nullptr, ("runKernel: " + msg).c_str());
  else
    napi_throw_type_error(env, nullptr, msg.c_str());
  return nullptr;
}

std::string str(napi_env env, napi_value v, bool* ok) {
  size_t len = 0;
  *ok = napi_get_value_string_utf8(env, v, nullptr, 0, &len) == napi_ok;
  if (!*ok) return "";
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, v, &s[0], len + 1, &len);
  return s;
}

// loadKernel(path, symbol): the symbol's address in the library (kept open for the process's life).
napi_value LoadKernel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool ok1 = false, ok2 = false;
  const std::string path = argc == 2 ? str(env, argv[0], &ok1) : "", sym = argc == 2 ? str(env, argv[1], &ok2) : "";
  if (!ok1 || !ok2) return fail(env, "loadKernel: expects (path: string, symbol: string)");
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    napi_throw_error(env, nullptr, (std::string("loadKernel: ") + (why ? why : path)).c_str());
    return nullptr;
  }
  void* fn = dlsym(lib, sym.c_str());
  if (!fn) {
    napi_throw_error(env, nullptr, ("loadKernel: no symbol " + sym + " in " + path).c_str());
    return nullptr;
  }
  napi_value handle;
  napi_create_external(env, fn, nullptr, nullptr, &handle);
  return handle;
}

// The Float32Arrays (and Int32Arrays where ints) of a JS array, or false with a TypeError pending.
bool floatArrays(napi_env env, napi_value arr, std::vector<float*>* ptrs, std::vector<size_t>* lens,
                 bool ints = false) {
  bool isArray = false;
  napi_is_array(env, arr, &isArray);
  if (!isArray) return fail(env, "runKernel: inputs and outputs must be arrays of Float32Array"), false;
  uint32_t n = 0;
  napi_get_array_length(env, arr, &n);
  static float dummy[1];
  for (uint32_t i = 0; i < n; ++i) {
    napi_value v;
    napi_get_element(env, arr, i, &v);
    bool is = false;
    napi_is_typedarray(env, v, &is);
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void* data = nullptr;
    napi_value buf;
    if (!is || napi_get_typedarray_info(env, v, &type, &length, &data, &buf, &offset) != napi_ok ||
        (type != napi_float32_array && !(ints && type == napi_int32_array)))
      return fail(env, "runKernel: inputs and outputs must be arrays of Float32Array"), false;
    ptrs->push_back(length ? static_cast<float*>(data) : dummy);
    lens->push_back(length);
  }
  return true;
}

// runKernel(handle, inputs, outputs, meta, outLengths?): meta is an Int32Array [rank, shape, strides of
// each input]; outLengths (an Int32Array, one per output) replaces the loop's size as the length each
// output must have, for kernels whose outputs are not all of the loop's size (row kernels' columns).
napi_value RunKernel(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 4) return fail(env, "runKernel: expects (handle, inputs, outputs, meta)");
  void* fn = nullptr;
  if (napi_get_value_external(env, argv[0], &fn) != napi_ok || !fn)
    return fail(env, "runKernel: argument 0 must be a handle from loadKernel");
  std::vector<float*> in, out;
  std::vector<size_t> inLen, outLen;
  if (!floatArrays(env, argv[1], &in, &inLen, true) || !floatArrays(env, argv[2], &out, &outLen)) return nullptr;
  bool is = false;
  napi_is_typedarray(env, argv[3], &is);
  napi_typedarray_type type;
  size_t mlen = 0, offset = 0;
  void* mdata = nullptr;
  napi_value buf;
  if (!is || napi_get_typedarray_info(env, argv[3], &type, &mlen, &mdata, &buf, &offset) != napi_ok ||
      type != napi_int32_array || mlen < 1)
    return fail(env, "runKernel: argument 3 must be an Int32Array");
  const int32_t* m = static_cast<const int32_t*>(mdata);
  const int64_t rank = m[0];
  if (rank < 0 || rank > kMaxRank || mlen != static_cast<size_t>(1 + rank * (1 + in.size())))
    return fail(env, "meta must be [rank, shape, strides of each input]", true);
  std::vector<int64_t> meta(m, m + mlen);
  uint64_t total = 1;
  for (int64_t a = 0; a < rank; ++a) {
    if (meta[1 + a] < 0) return fail(env, "negative size", true);
    total *= static_cast<uint64_t>(meta[1 + a]);
  }
  std::vector<uint64_t> need(out.size(), total);
  if (argc >= 5) {
    napi_valuetype t;
    napi_typeof(env, argv[4], &t);
    if (t != napi_undefined) {
      bool isT = false;
      napi_is_typedarray(env, argv[4], &isT);
      napi_typedarray_type lt;
      size_t llen = 0, loff = 0;
      void* ldata = nullptr;
      napi_value lbuf;
      if (!isT || napi_get_typedarray_info(env, argv[4], &lt, &llen, &ldata, &lbuf, &loff) != napi_ok ||
          lt != napi_int32_array || llen != out.size())
        return fail(env, "runKernel: argument 4 must be an Int32Array with one length per output");
      for (size_t q = 0; q < out.size(); ++q) {
        const int32_t l = static_cast<const int32_t*>(ldata)[q];
        if (l < 0) return fail(env, "negative output length", true);
        need[q] = static_cast<uint64_t>(l);
      }
    }
  }
  for (size_t q = 0; q < out.size(); ++q)
    if (outLen[q] < need[q]) return fail(env, "output " + std::to_string(q) + " is too short", true);
  if (total > 0)
    for (size_t q = 0; q < in.size(); ++q) {
      uint64_t maxOff = 0;
      for (int64_t a = 0; a < rank; ++a) {
        const int64_t s = meta[1 + rank * (1 + q) + a];
        if (s < 0) return fail(env, "negative stride", true);
        maxOff += static_cast<uint64_t>(meta[1 + a] - 1) * static_cast<uint64_t>(s);
      }
      if (inLen[q] < maxOff + 1) return fail(env, "input " + std::to_string(q) + " is too short", true);
    }
  if (total == 0) return nullptr;
  return runKernel(env, [&] { reinterpret_cast<GenKernel>(fn)(in.data(), out.data(), meta.data()); });
}

}  // namespace

bool defineCodegen(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"loadKernel", LoadKernel}, {"runKernel", RunKernel}});
}

}  // namespace rankfuse
