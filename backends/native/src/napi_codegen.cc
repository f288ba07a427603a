// JS entry points for generated kernels (backends/native/codegen): loadKernel opens a compiled
// kernel library and returns its entry point as an opaque handle; runKernel calls it on Float32Array
// inputs and outputs with the loop's shape and strides (codegen.h's meta layout). An input may be an
// Int32Array (row kernels' targets): the kernel gets its bytes and reads them as int32_t.
#include <dlfcn.h>

#include <cstdint>
#include <string>
#include <vector>

#include "napi_bindings.h"
#include "kernels.h"
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

// An Int32Array argument, or nullptr with a TypeError pending.
const int32_t* int32s(napi_env env, napi_value v, size_t* len) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  size_t offset = 0;
  void* data = nullptr;
  napi_value buf;
  if (!is || napi_get_typedarray_info(env, v, &type, len, &data, &buf, &offset) != napi_ok || type != napi_int32_array)
    return fail(env, "runMatmulEpilogue: sizes and strides must be Int32Arrays"), nullptr;
  static const int32_t none[1] = {0};
  return *len ? static_cast<const int32_t*>(data) : none;
}

// runMatmulEpilogue(handle, [a, b, y], extras, outs, sizes, strides): matmul_epilogue.cc's matmulEpilogue;
// sizes = [batch, M, K, N, bShared, transA, transB], strides = [row, column stride of each extra input];
// an empty y: the product is not kept.
napi_value RunMatmulEpilogue(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 6) return fail(env, "runMatmulEpilogue: expects (handle, [a, b, y], extras, outs, sizes, strides)");
  void* fn = nullptr;
  if (napi_get_value_external(env, argv[0], &fn) != napi_ok || !fn)
    return fail(env, "runMatmulEpilogue: argument 0 must be a handle from loadKernel");
  std::vector<float*> abc, ex, out;
  std::vector<size_t> abcLen, exLen, outLen;
  if (!floatArrays(env, argv[1], &abc, &abcLen) || !floatArrays(env, argv[2], &ex, &exLen) ||
      !floatArrays(env, argv[3], &out, &outLen))
    return nullptr;
  size_t ns = 0, nst = 0;
  const int32_t* s = int32s(env, argv[4], &ns);
  const int32_t* st = s ? int32s(env, argv[5], &nst) : nullptr;
  if (!s || !st) return nullptr;
  if (abc.size() != 3 || ns != 7 || nst != 2 * ex.size() || ex.size() > kMaxEpilogueInputs ||
      out.size() > kMaxEpilogueInputs)
    return fail(env, "runMatmulEpilogue: bad argument counts", true);
  const int64_t batch = s[0], M = s[1], K = s[2], N = s[3];
  const bool shared = s[4] != 0, transA = s[5] != 0, transB = s[6] != 0;
  if (batch < 0 || M < 0 || K < 0 || N < 0) return fail(env, "negative size", true);
  const uint64_t rows = static_cast<uint64_t>(batch * M), total = rows * static_cast<uint64_t>(N);
  if (abcLen[0] < rows * K || abcLen[1] < static_cast<uint64_t>((shared ? 1 : batch) * K * N) ||
      (abcLen[2] != 0 && abcLen[2] < total))
    return fail(env, "a, b or y is too short", true);
  for (size_t q = 0; q < out.size(); ++q)
    if (outLen[q] < total) return fail(env, "output " + std::to_string(q) + " is too short", true);
  std::vector<int64_t> strides(st, st + nst);
  for (size_t q = 0; q < ex.size() && total > 0; ++q) {
    const int64_t rs = strides[2 * q], cs = strides[2 * q + 1];
    if (rs < 0 || cs < 0) return fail(env, "negative stride", true);
    if (exLen[q] < (rows - 1) * rs + (N - 1) * cs + 1)
      return fail(env, "input " + std::to_string(q) + " is too short", true);
  }
  if (total == 0) return nullptr;
  return runKernel(env, [&] {
    matmulEpilogue(reinterpret_cast<EpilogueKernel>(fn), abc[0], abc[1], abcLen[2] ? abc[2] : nullptr, batch, M, K,
                   N, shared, transA, transB, static_cast<int>(ex.size()), ex.data(), strides.data(),
                   static_cast<int>(out.size()), out.data());
  });
}

}  // namespace

bool defineCodegen(napi_env env, napi_value exports) {
  return defineAll(env, exports, {{"loadKernel", LoadKernel}, {"runKernel", RunKernel}, {"runMatmulEpilogue", RunMatmulEpilogue}});
}

}  // namespace rankfuse
