// Argument decoding for the N-API entry points: typed arrays, integers, numbers and booleans, with
// every failure turned into a pending JS exception (TypeError for a wrong type or count, RangeError
// for a buffer too small for the sizes given) so that a bad call throws instead of crashing.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rankfuse {

// One call's arguments. Every getter returns false once an exception is pending; callers check
// `ok()` once after decoding everything and return nullptr if it is false.
class Args {
 public:
  Args(napi_env env, napi_callback_info info, const char* fn, size_t want) : env_(env), fn_(fn) {
    argc_ = kMax;
    if (napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr) != napi_ok) {
      fail("could not read arguments");
      return;
    }
    if (argc_ < want) {
      char msg[160];
      std::snprintf(msg, sizeof msg, "expects %zu arguments, got %zu", want, argc_);
      fail(msg);
    }
  }

  bool ok() const { return ok_; }
  napi_env env() const { return env_; }

  // A typed array of 4-byte elements: Float32Array (float32 only) or, with allowInt, Int32Array.
  template <typename T>
  T* array(size_t i, napi_typedarray_type want, size_t* len, bool allowOther4Byte = false) {
    if (!ok_) return nullptr;
    bool is = false;
    napi_is_typedarray(env_, argv_[i], &is);
    if (!is) return failArg(i, want == napi_float32_array ? "a Float32Array" : "an Int32Array"), nullptr;
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void* data = nullptr;
    napi_value buf;
    if (napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, &buf, &offset) != napi_ok)
      return failArg(i, "a readable typed array"), nullptr;
    bool fourByte = type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array;
    if (type != want && !(allowOther4Byte && fourByte))
      return failArg(i, want == napi_float32_array ? "a Float32Array" : "an Int32Array"), nullptr;
    *len = length;
    // A zero-length array may report a null data pointer; hand back a valid dummy instead.
    static thread_local uint32_t dummy[1];
    return length == 0 ? reinterpret_cast<T*>(dummy) : static_cast<T*>(data);
  }
  float* f32(size_t i, size_t* len) { return array<float>(i, napi_float32_array, len); }
  int32_t* i32(size_t i, size_t* len) { return array<int32_t>(i, napi_int32_array, len); }
  // Either a Float32Array or an Int32Array (kernels that only move 4-byte words).
  uint32_t* words(size_t i, size_t* len) { return array<uint32_t>(i, napi_float32_array, len, true); }

  double number(size_t i) {
    if (!ok_) return 0;
    double v = 0;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok) failArg(i, "a number");
    return v;
  }
  // A non-negative integer (sizes, counts, op codes).
  int64_t size(size_t i) {
    double v = number(i);
    if (!ok_) return 0;
    if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v)) || v > 9.0e15) {
      failArg(i, "a non-negative integer");
      return 0;
    }
    return static_cast<int64_t>(v);
  }
  bool boolean(size_t i) {
    if (!ok_) return false;
    napi_valuetype t;
    napi_typeof(env_, argv_[i], &t);
    if (t == napi_boolean) {
      bool b = false;
      napi_get_value_bool(env_, argv_[i], &b);
      return b;
    }
    if (t == napi_number) return number(i) != 0;
    failArg(i, "a boolean");
    return false;
  }

  // RangeError unless `have` >= `need` (a buffer shorter than the sizes say).
  bool need(size_t i, size_t have, uint64_t need) {
    if (!ok_) return false;
    if (have < need) {
      char msg[200];
      std::snprintf(msg, sizeof msg, "%s: argument %zu has %zu elements, needs %llu", fn_, i, have,
                    static_cast<unsigned long long>(need));
      napi_throw_range_error(env_, nullptr, msg);
      ok_ = false;
    }
    return ok_;
  }
  bool rangeError(const std::string& what) {
    if (ok_) napi_throw_range_error(env_, nullptr, (std::string(fn_) + ": " + what).c_str());
    ok_ = false;
    return false;
  }
  bool typeError(const std::string& what) {
    if (ok_) napi_throw_type_error(env_, nullptr, (std::string(fn_) + ": " + what).c_str());
    ok_ = false;
    return false;
  }

 private:
  static constexpr size_t kMax = 12;
  void fail(const char* what) { typeError(what); }
  void failArg(size_t i, const char* what) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "argument %zu must be %s", i, what);
    fail(msg);
  }

  napi_env env_;
  const char* fn_;
  size_t argc_ = 0;
  napi_value argv_[kMax];
  bool ok_ = true;
};

}  // namespace rankfuse
