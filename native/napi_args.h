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
  if (index >= info.Length() || !info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v != static_cast<double>(static_cast<uint64_t>(v)) || v > static_cast<double>(max))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer in [0, " + std::to_string(max) + "]");
  return static_cast<uint64_t>(v);
}

inline double arg_number(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length() || !info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) throw Napi::RangeError::New(info.Env(), std::string(what) + " must be finite");
  return v;
}

inline bool arg_bool(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length() || !info[index].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

inline uint64_t checked_mul(const Napi::Env& env, uint64_t x, uint64_t y, const char* what) {
  if (x != 0 && y > kMaxSafe / x) throw Napi::RangeError::New(env, std::string(what) + " overflows");
  return x * y;
}

// A Float32Array argument with at least `min_length` elements (4-byte aligned by construction).
inline float* arg_floats(const Napi::CallbackInfo& info, size_t index, const char* what, uint64_t min_length) {
  if (index >= info.Length() || !info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Float32Array");
  auto array = info[index].As<Napi::Float32Array>();
  if (array.ElementLength() < min_length)
    throw Napi::RangeError::New(info.Env(), std::string(what) + " has " + std::to_string(array.ElementLength()) + " elements, needs " +
                                                std::to_string(min_length));
  return array.Data();
}

}  // namespace bnn
