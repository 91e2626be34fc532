// Argument checks shared by the addon's functions: every number, array type and length is
// validated before any memory is touched, so bad input raises a JavaScript exception, never a crash.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace bnn {

constexpr uint64_t kMaxSafe = (1ULL << 53) - 1;  // JavaScript's exact-integer limit

inline uint64_t arg_count(const Napi::CallbackInfo& info, size_t index, const char* what, uint64_t max = kMaxSafe) {
  if (index >= info.Length() || !info[index].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v != static_cast<double>(static_cast<uint64_t>(v)) || v > static_cast<double>(max))
    throw Napi::RangeError::New(info.Env(),
                                std::string(what) + " must be an integer in [0, " + std::to_string(max) + "]");
  return static_cast<uint64_t>(v);
}

inline double arg_number(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length() || !info[index].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) throw Napi::RangeError::New(info.Env(), std::string(what) + " must be finite");
  return v;
}

inline bool arg_bool(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length() || !info[index].IsBoolean())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

inline uint64_t checked_mul(const Napi::Env& env, uint64_t x, uint64_t y, const char* what) {
  if (x != 0 && y > kMaxSafe / x) throw Napi::RangeError::New(env, std::string(what) + " overflows");
  return x * y;
}

// A typed-array argument of `type` with at least `min_length` elements, whose data start on an
// `align`-byte boundary. The data pointer comes from napi_get_typedarray_info, which also serves
// arrays on a SharedArrayBuffer (Napi::ArrayBuffer::Data() refuses those with "Invalid argument").
template <typename T>
T* arg_array(const Napi::CallbackInfo& info, size_t index, const char* what, napi_typedarray_type type,
             const char* type_name, uint64_t min_length, size_t align = alignof(T)) {
  const Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, std::string(what) + " must be a " + type_name);
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, info[index], nullptr, &length, &data, nullptr, nullptr) != napi_ok)
    throw Napi::TypeError::New(env, std::string(what) + ": cannot read the " + type_name + "'s memory");
  if (length < min_length)
    throw Napi::RangeError::New(env, std::string(what) + " has " + std::to_string(length) + " elements, needs " +
                                     std::to_string(min_length));
  if (reinterpret_cast<uintptr_t>(data) % align != 0)
    throw Napi::RangeError::New(env,
                                std::string(what) + " must start on an " + std::to_string(align) + "-byte boundary");
  return static_cast<T*>(data);
}

inline float* arg_floats(const Napi::CallbackInfo& info, size_t index, const char* what, uint64_t min_length) {
  return arg_array<float>(info, index, what, napi_float32_array, "Float32Array", min_length);
}

}  // namespace bnn
