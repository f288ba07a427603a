// Argument decoding and checking for the N-API entry points (napi_*.cc): typed arrays, integers,
// numbers, booleans and strings, with every failure turned into a pending JS exception (TypeError for
// a wrong type or count, RangeError for a buffer too small for the sizes given, an unknown op code or
// a bad shape) so that a bad call throws instead of crashing. The checks are helpers rather than code
// in each binding, so every entry point words its errors the same way.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>

#include "napi_run.h"
#include "strided.h"

namespace rankfuse {

// a * b, saturating: a shape whose element count passes 2^64 must fail the length check, not wrap to 0.
inline uint64_t mulSat(uint64_t a, uint64_t b) {
  uint64_t p;
  return __builtin_mul_overflow(a, b, &p) ? std::numeric_limits<uint64_t>::max() : p;
}

// Product of sizes, saturating.
inline uint64_t prod(std::initializer_list<int64_t> xs) {
  uint64_t p = 1;
  for (int64_t x : xs) p = mulSat(p, static_cast<uint64_t>(x));
  return p;
}

// Elements of a decoded shape (entries already checked non-negative), saturating.
inline uint64_t elements(const int64_t* shape, size_t rank) {
  uint64_t total = 1;
  for (size_t k = 0; k < rank; ++k) total = mulSat(total, static_cast<uint64_t>(shape[k]));
  return total;
}

// A typed-array argument: its data, its length in elements and its position (for error messages).
// A zero-length buffer stands for "not wanted" where a kernel takes optional buffers: get() is then null.
template <typename T>
struct Buf {
  T* p = nullptr;
  size_t len = 0;
  size_t arg = 0;
  T* get() const { return len ? p : nullptr; }
};

// One call's arguments. Every getter and check returns a harmless value (null, 0, false) once an
// exception is pending, so a binding decodes and checks everything in order and then calls run(),
// which starts the kernel only if nothing failed: the first failing check is the one reported.
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

  // ---- decoding ----
  Buf<float> f32(size_t i) { return array<float>(i, napi_float32_array); }
  Buf<int32_t> i32(size_t i) { return array<int32_t>(i, napi_int32_array); }
  // Either a Float32Array or an Int32Array (kernels that only move 4-byte words).
  Buf<uint32_t> words(size_t i) { return array<uint32_t>(i, napi_float32_array, true); }

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
  // A string copied into dst (cap bytes with the terminator; longer strings are cut).
  bool string(size_t i, char* dst, size_t cap) {
    if (!ok_) return false;
    size_t len = 0;
    if (napi_get_value_string_utf8(env_, argv_[i], dst, cap, &len) != napi_ok) failArg(i, "a string");
    return ok_;
  }
  // An Int32Array of non-negative shape entries (or strides), at most kMaxRank long, widened
  // into dst; *rank is set only on success.
  bool dims(size_t i, int64_t* dst, size_t* rank, const char* what) {
    const Buf<int32_t> d = i32(i);
    if (!ok_) return false;
    if (d.len > static_cast<size_t>(kMaxRank)) return rangeError(std::string(what) + " has rank above 16");
    for (size_t k = 0; k < d.len; ++k) {
      if (d.p[k] < 0) return rangeError(std::string(what) + " has a negative entry");
      dst[k] = d.p[k];
    }
    *rank = d.len;
    return true;
  }
  // The fused kernels' sizes: an Int32Array of at least `count` entries copied into dst, the first
  // `nonNegative` of them >= 0. `layout` names the entries for the error message, e.g. "[bh, T, dk, dv]".
  bool sizes(size_t i, int64_t* dst, size_t count, size_t nonNegative, const char* layout) {
    const Buf<int32_t> d = i32(i);
    if (ok_ && d.len < count) rangeError(std::string("sizes must be ") + layout);
    if (!ok_) return false;
    for (size_t k = 0; k < count; ++k) dst[k] = d.p[k];
    for (size_t k = 0; k < nonNegative; ++k)
      if (dst[k] < 0) return rangeError("sizes must be non-negative");
    return true;
  }

  // ---- checks (each false, with the exception pending, when it fails) ----
  // RangeError unless the buffer holds at least n elements (a buffer shorter than the sizes say).
  template <typename T>
  bool need(const Buf<T>& b, uint64_t n) {
    if (!ok_) return false;
    if (b.len < n) {
      char msg[200];
      std::snprintf(msg, sizeof msg, "%s: argument %zu has %zu elements, needs %llu", fn_, b.arg, b.len,
                    static_cast<unsigned long long>(n));
      napi_throw_range_error(env_, nullptr, msg);
      ok_ = false;
    }
    return ok_;
  }
  // An optional buffer: empty, or at least n elements.
  template <typename T>
  bool needOpt(const Buf<T>& b, uint64_t n) {
    return b.len == 0 ? ok_ : need(b, n);
  }
  // The input read through `strides` over `shape` must stay inside the buffer.
  template <typename T>
  bool stridedFits(const Buf<T>& b, const int64_t* shape, const int64_t* strides, size_t rank) {
    if (!ok_) return false;
    if (elements(shape, rank) == 0) return true;
    uint64_t maxOff = 0;
    for (size_t k = 0; k < rank; ++k) maxOff += static_cast<uint64_t>(shape[k] - 1) * static_cast<uint64_t>(strides[k]);
    return need(b, maxOff + 1);
  }
  // An op code below `count` (the kernel's enum size).
  bool knownOp(int64_t op, int64_t count) {
    if (!ok_ || op < count) return ok_;
    return rangeError("unknown op " + std::to_string(op));
  }
  // RangeError(what) unless `holds`.
  bool require(bool holds, const char* what) {
    if (!ok_ || holds) return ok_;
    return rangeError(what);
  }
  // After an indexing kernel: RangeError naming the first out-of-range id, if the kernel found one
  // (bad >= 0), e.g. "id 50 at position 1 outside [0, 50)".
  bool idsInRange(int64_t bad, const int32_t* ids, int64_t bound, const char* noun, const char* place) {
    if (bad < 0) return ok_;
    return rangeError(std::string(noun) + " " + std::to_string(ids[bad]) + " at " + place + " " + std::to_string(bad) +
                      " outside [0, " + std::to_string(bound) + ")");
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

  // ---- the call ----
  // Runs the kernel (see runKernel) if every decode and check passed; the entry point returns undefined.
  template <class F>
  napi_value run(F f, bool exact = false) {
    return ok_ ? runKernel(env_, f, exact) : nullptr;
  }

 private:
  static constexpr size_t kMax = 12;

  // A typed array of 4-byte elements: `want` only or, with allowOther4Byte, any 4-byte element type.
  template <typename T>
  Buf<T> array(size_t i, napi_typedarray_type want, bool allowOther4Byte = false) {
    Buf<T> b;
    b.arg = i;
    if (!ok_) return b;
    const char* expected = want == napi_float32_array ? "a Float32Array" : "an Int32Array";
    bool is = false;
    napi_is_typedarray(env_, argv_[i], &is);
    if (!is) return failArg(i, expected), b;
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void* data = nullptr;
    napi_value buf;
    if (napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, &buf, &offset) != napi_ok)
      return failArg(i, "a readable typed array"), b;
    bool fourByte = type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array;
    if (type != want && !(allowOther4Byte && fourByte)) return failArg(i, expected), b;
    b.len = length;
    // A zero-length array may report a null data pointer; hand back a valid dummy instead.
    static thread_local uint32_t dummy[1];
    b.p = length == 0 ? reinterpret_cast<T*>(dummy) : static_cast<T*>(data);
    return b;
  }
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
