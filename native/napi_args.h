// Argument checks shared by the addon's functions: every number, array type and length is
// validated before any memory is touched, so bad input raises a JavaScript exception, never a crash.
//
// Most entry points take one object of named fields, read by `Fields` (e.g. matmul({ a, b, c, m, n, k, ... }));
// a few short ones take positional arguments (arg_*). Both check a value with the same as_* functions, whose
// messages name the field or argument ("m must be an integer in [0, …]", "c has 3 elements, needs 4").
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace bnn {

constexpr uint64_t kMaxSafe = (1ULL << 53) - 1;  // JavaScript's exact-integer limit

// ---- one value, named `what` in the messages ----------------------------------------------------

inline uint64_t as_count(const Napi::Env& env, const Napi::Value& v, const char* what, uint64_t max = kMaxSafe) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != static_cast<double>(static_cast<uint64_t>(d)) || d > static_cast<double>(max))
    throw Napi::RangeError::New(env, std::string(what) + " must be an integer in [0, " + std::to_string(max) + "]");
  return static_cast<uint64_t>(d);
}

inline double as_number(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(env, std::string(what) + " must be finite");
  return d;
}

inline bool as_bool(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsBoolean()) throw Napi::TypeError::New(env, std::string(what) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// A typed array of `type` with at least `min_length` elements, whose data start on an `align`-byte
// boundary. The data pointer comes from napi_get_typedarray_info, which also serves arrays on a
// SharedArrayBuffer (Napi::ArrayBuffer::Data() refuses those with "Invalid argument").
template <typename T>
T* as_array(const Napi::Env& env, const Napi::Value& v, const char* what, napi_typedarray_type type,
            const char* type_name, uint64_t min_length, size_t align = alignof(T)) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, std::string(what) + " must be a " + type_name);
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, nullptr, &length, &data, nullptr, nullptr) != napi_ok)
    throw Napi::TypeError::New(env, std::string(what) + ": cannot read the " + type_name + "'s memory");
  if (length < min_length)
    throw Napi::RangeError::New(env, std::string(what) + " has " + std::to_string(length) + " elements, needs " +
                                         std::to_string(min_length));
  if (reinterpret_cast<uintptr_t>(data) % align != 0)
    throw Napi::RangeError::New(env,
                                std::string(what) + " must start on an " + std::to_string(align) + "-byte boundary");
  return static_cast<T*>(data);
}

inline uint64_t checked_mul(const Napi::Env& env, uint64_t x, uint64_t y, const char* what) {
  if (x != 0 && y > kMaxSafe / x) throw Napi::RangeError::New(env, std::string(what) + " overflows");
  return x * y;
}

// ---- positional arguments: argument `index` of the call (undefined past the last) ----------------

inline uint64_t arg_count(const Napi::CallbackInfo& info, size_t index, const char* what, uint64_t max = kMaxSafe) {
  return as_count(info.Env(), info[index], what, max);
}

template <typename T>
T* arg_array(const Napi::CallbackInfo& info, size_t index, const char* what, napi_typedarray_type type,
             const char* type_name, uint64_t min_length, size_t align = alignof(T)) {
  return as_array<T>(info.Env(), info[index], what, type, type_name, min_length, align);
}

// ---- named fields: the one object argument of an entry point -------------------------------------

// Every listed field is read in the constructor, before any is checked: a getter (the only JavaScript
// that can run while arguments are read) has run by the time a pointer is taken, so it cannot detach
// or move an array that was already checked. A field that is missing reads as undefined, so its check
// fails with the field's name; fields not listed are ignored.
class Fields {
 public:
  Fields(const Napi::CallbackInfo& info, const char* function, std::initializer_list<const char*> keys)
      : Fields(info, function, keys, nullptr, 0) {}
  // `keys`, then the fields `more` that several entry points share (a geometry).
  template <size_t N>
  Fields(const Napi::CallbackInfo& info, const char* function, std::initializer_list<const char*> keys,
         const char* const (&more)[N])
      : Fields(info, function, keys, more, N) {}

  Napi::Env env() const { return env_; }
  bool has(const char* key) const { return !get(key).IsUndefined(); }
  uint64_t count(const char* key, uint64_t max = kMaxSafe) const { return as_count(env_, get(key), key, max); }
  double number(const char* key) const { return as_number(env_, get(key), key); }
  bool boolean(const char* key) const { return as_bool(env_, get(key), key); }
  std::string string(const char* key) const {
    const Napi::Value v = get(key);
    if (!v.IsString()) throw Napi::TypeError::New(env_, std::string(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }
  template <typename T>
  T* array(const char* key, napi_typedarray_type type, const char* type_name, uint64_t min_length) const {
    return as_array<T>(env_, get(key), key, type, type_name, min_length);
  }
  float* floats(const char* key, uint64_t min_length) const {
    return array<float>(key, napi_float32_array, "Float32Array", min_length);
  }

 private:
  Fields(const Napi::CallbackInfo& info, const char* function, std::initializer_list<const char*> keys,
         const char* const* more, size_t count)
      : env_(info.Env()) {
    // A typed array or further arguments: a call in the positional style, which no entry point takes.
    if (info.Length() != 1 || !info[0].IsObject() || info[0].IsTypedArray() || info[0].IsArray())
      throw Napi::TypeError::New(env_, std::string(function) + " takes one object of named arguments");
    const Napi::Object o = info[0].As<Napi::Object>();
    values_.reserve(keys.size() + count);
    for (const char* key : keys) values_.emplace_back(key, o.Get(key));
    for (size_t i = 0; i < count; i++) values_.emplace_back(more[i], o.Get(more[i]));
  }

  const Napi::Value& get(const char* key) const {
    for (const auto& [name, value] : values_)
      if (std::strcmp(name, key) == 0) return value;
    throw Napi::Error::New(env_, std::string("internal: field '") + key + "' was not read");
  }

  Napi::Env env_;
  std::vector<std::pair<const char*, Napi::Value>> values_;
};

}  // namespace bnn
