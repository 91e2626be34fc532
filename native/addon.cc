// Node binding of the XNOR-popcount kernels and the float GEMM: picks the best instruction set at
// run time, splits the output over the shared thread pool (parallel.h), and validates every
// argument before touching memory so that bad input raises a JavaScript exception, not a crash.
#include <napi.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "napi_args.h"
#include "parallel.h"
#include "register.h"
#include "sgemm.h"
#include "xnor_common.h"

namespace {

struct Isa {
  const char* name;
  xnor::GemmFn fn;
};

// Supported instruction sets on this CPU, best first.
std::vector<Isa> detect_isas() {
  std::vector<Isa> isas;
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq"))
    isas.push_back({"avx512-vpopcntdq", xnor::gemm_avx512});
  if (__builtin_cpu_supports("avx2")) isas.push_back({"avx2", xnor::gemm_avx2});
  if (__builtin_cpu_supports("popcnt")) isas.push_back({"popcnt", xnor::gemm_popcnt});
#endif
#if defined(__aarch64__)
  isas.push_back({"neon", xnor::gemm_neon});
#endif
  isas.push_back({"scalar", xnor::gemm_scalar});
  return isas;
}

const std::vector<Isa>& isas() {
  static const std::vector<Isa> list = detect_isas();
  return list;
}

}  // namespace

xnor::GemmFn xnor::best_gemm() { return isas().front().fn; }

void xnor::parallel_gemm(GemmFn fn, const GemmArgs& whole, size_t max_threads) {
  const size_t m = whole.m1 - whole.m0, n = whole.n1 - whole.n0;
  // One XOR-popcount over 64 bits does ~16× the work of a float FMA in about the same time: a
  // binary product is worth splitting only at 16× the size of a float one.
  const size_t threads = bnn::threads_for(2.0 * m * n * whole.K / 16, max_threads);
  // Split the larger output dimension, in whole 16-row/column blocks.
  const bool split_rows = m >= n;
  const size_t first = split_rows ? whole.m0 : whole.n0;
  bnn::parallel_for(split_rows ? m : n, 16, threads, [&](size_t lo, size_t hi) {
    GemmArgs part = whole;
    if (split_rows) part.m0 = first + lo, part.m1 = first + hi;
    else part.n0 = first + lo, part.n1 = first + hi;
    fn(part);
  });
}

namespace {

using bnn::arg_array;
using bnn::arg_count;
using bnn::checked_mul;
using bnn::kMaxSafe;

// Padding bits past K must be 0 (the K − 2·popcount identity relies on it).
void check_padding(const Napi::Env& env, const uint64_t* rows, uint64_t count, uint64_t stride, uint64_t K,
                   const char* what) {
  const uint64_t full = K / 64;
  const uint64_t tail_mask = K % 64 ? ~((1ULL << (K % 64)) - 1) : ~0ULL;
  for (uint64_t r = 0; r < count; r++) {
    const uint64_t* row = rows + r * stride;
    bool clean = full >= stride || (row[full] & tail_mask) == 0;
    for (uint64_t w = full + 1; clean && w < stride; w++) clean = row[w] == 0;
    if (!clean)
      throw Napi::RangeError::New(env, std::string(what) + ": padding bits past K in row " + std::to_string(r) +
                                  " are not 0");
  }
}

struct GemmCall {
  const uint64_t* a;
  const uint64_t* b;
  int32_t* out;
  uint64_t m, n, k, stride, threads;
  const Isa* isa;
};

// Arguments (a, b, m, n, k, stride32, out, threads, isa?) shared by gemm and bitPlaneGemm; `a`
// holds m · a_rows_per_output rows, `out` m × n values.
GemmCall parse_gemm(const Napi::CallbackInfo& info, uint64_t a_rows_per_output) {
  const Napi::Env env = info.Env();
  GemmCall g{};
  g.m = arg_count(info, 2, "m", kMaxSafe);
  g.n = arg_count(info, 3, "n", kMaxSafe);
  g.k = arg_count(info, 4, "k", a_rows_per_output > 1 ? 1ULL << 23 : 1ULL << 30);
  const uint64_t stride32 = arg_count(info, 5, "stride", kMaxSafe);
  if (stride32 % 16 != 0) throw Napi::RangeError::New(env, "stride must be a multiple of 16 words (512 bits)");
  if (stride32 * 32 < g.k) throw Napi::RangeError::New(env, "stride is too short for k");
  g.threads = arg_count(info, 7, "threads", 1024);
  if (g.threads == 0) throw Napi::RangeError::New(env, "threads must be at least 1");
  const uint64_t a_rows = checked_mul(env, g.m, a_rows_per_output, "m · rows per output");
  g.a = arg_array<uint64_t>(info, 0, "a", napi_uint32_array, "Uint32Array",
                            checked_mul(env, a_rows, stride32, "m · stride"));
  g.b = arg_array<uint64_t>(info, 1, "b", napi_uint32_array, "Uint32Array",
                            checked_mul(env, g.n, stride32, "n · stride"));
  g.out = arg_array<int32_t>(info, 6, "out", napi_int32_array, "Int32Array", checked_mul(env, g.m, g.n, "m · n"));
  g.isa = &isas().front();
  if (info.Length() > 8 && !info[8].IsUndefined()) {
    if (!info[8].IsString()) throw Napi::TypeError::New(env, "isa must be a string");
    const std::string wanted = info[8].As<Napi::String>().Utf8Value();
    g.isa = nullptr;
    for (const auto& candidate : isas())
      if (wanted == candidate.name) g.isa = &candidate;
    if (!g.isa) throw Napi::RangeError::New(env, "instruction set '" + wanted + "' is not available on this CPU");
  }
  g.stride = stride32 / 2;
  check_padding(env, g.a, a_rows, g.stride, g.k, "a");
  check_padding(env, g.b, g.n, g.stride, g.k, "b");
  return g;
}

// gemm(a: Uint32Array, b: Uint32Array, m, n, k, stride32, out: Int32Array, threads, isa?: string): void
//   out[i·n + j] = Σ_k a_ik · b_jk over ±1 values packed as described in xnor_common.h, where
//   `stride32` is the row length in 32-bit words (a multiple of 16).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const GemmCall g = parse_gemm(info, 1);
  if (g.m == 0 || g.n == 0) return info.Env().Undefined();
  xnor::parallel_gemm(g.isa->fn, {g.a, g.b, g.stride, g.k, g.out, g.n, 0, g.m, 0, g.n}, g.threads);
  return info.Env().Undefined();
}

// bitPlaneGemm(a, b, m, n, k, stride32, out, threads, isa?): void — the first layer on bit planes
// (lib/kernels/firstLayer.ts): `a` holds 8 rows per input (planes 0..7), and
//   out[i·n + j] = Σ_n 2^n · (a_{8i+n} · b_j).
// Computed 8 inputs (64 plane rows) at a time into a per-thread buffer that stays in cache, so
// the 8× larger plane products never go to memory.
Napi::Value BitPlaneGemm(const Napi::CallbackInfo& info) {
  const GemmCall g = parse_gemm(info, 8);
  if (g.m == 0 || g.n == 0) return info.Env().Undefined();
  constexpr uint64_t kInputs = 8;
  // 8 plane products per output: 8× the binary work of a plain product (see parallel_gemm).
  bnn::parallel_for(g.m, kInputs, bnn::threads_for(double(g.m) * g.n * g.k, g.threads), [&](size_t lo, size_t hi) {
    std::vector<int32_t> planes(kInputs * 8 * g.n);
    for (uint64_t i0 = lo; i0 < hi; i0 += kInputs) {
      const uint64_t count = hi - i0 < kInputs ? hi - i0 : kInputs;
      g.isa->fn(xnor::GemmArgs{g.a + i0 * 8 * g.stride, g.b, g.stride, g.k, planes.data(), g.n, 0, count * 8, 0, g.n});
      for (uint64_t i = 0; i < count; i++) {
        const int32_t* p = planes.data() + i * 8 * g.n;
        int32_t* row = g.out + (i0 + i) * g.n;
        for (uint64_t j = 0; j < g.n; j++) {
          int32_t s = p[7 * g.n + j];
          for (int plane = 6; plane >= 0; plane--) s = 2 * s + p[plane * g.n + j];
          row[j] = s;
        }
      }
    }
  });
  return info.Env().Undefined();
}

// thresholdPack(scores: Int32Array, m, n, thresholds: Int32Array, flips: Uint8Array, out: Uint32Array, stride32): void
//   bit j of row i is 1 (+1) where (flips[j] ? −s : s) ≥ thresholds[j], s = scores[i·n + j]: a
//   BatchNorm followed by sign, folded into one integer comparison per neuron.
Napi::Value ThresholdPack(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t m = arg_count(info, 1, "m", kMaxSafe);
  const uint64_t n = arg_count(info, 2, "n", 1ULL << 30);
  const uint64_t stride32 = arg_count(info, 6, "stride", kMaxSafe);
  if (stride32 % 16 != 0) throw Napi::RangeError::New(env, "stride must be a multiple of 16 words (512 bits)");
  if (stride32 * 32 < n) throw Napi::RangeError::New(env, "stride is too short for n");
  const auto* s =
      arg_array<int32_t>(info, 0, "scores", napi_int32_array, "Int32Array", checked_mul(env, m, n, "m · n"));
  const auto* t = arg_array<int32_t>(info, 3, "thresholds", napi_int32_array, "Int32Array", n);
  const auto* flips = arg_array<uint8_t>(info, 4, "flips", napi_uint8_array, "Uint8Array", n);
  auto* out = arg_array<uint32_t>(info, 5, "out", napi_uint32_array, "Uint32Array",
                                checked_mul(env, m, stride32, "m · stride"));
  for (uint64_t i = 0; i < m; i++) {
    const int32_t* row = s + i * n;
    uint32_t* bits = out + i * stride32;
    for (uint64_t w = 0; w < stride32; w++) bits[w] = 0;
    for (uint64_t j = 0; j < n; j++) {
      const int32_t v = flips[j] ? -row[j] : row[j];
      bits[j >> 5] |= static_cast<uint32_t>(v >= t[j]) << (j & 31);
    }
  }
  return env.Undefined();
}

Napi::Value Roofline(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "seconds must be a number");
  const double seconds = info[0].As<Napi::Number>().DoubleValue();
  if (!(seconds > 0 && seconds <= 60)) throw Napi::RangeError::New(env, "seconds must be in (0, 60]");
#if defined(__x86_64__) || defined(_M_X64)
  if (isas().front().fn == xnor::gemm_avx512) return Napi::Number::New(env, xnor::roofline_avx512(seconds));
#endif
  return env.Null();  // measured only where VPOPCNTQ exists
}

// sgemm(a: Float32Array, b: Float32Array, c: Float32Array, m, n, k, transA, transB, accumulate, threads): void
//   c (m × n) = op(a)·op(b) (+ c when `accumulate`), row-major and densely stored: op(a) is m × k
//   (a is k × m when transA), op(b) is k × n (b is n × k when transB); c must not overlap a or b
//   (the result would be wrong, though memory stays in bounds). threads: a cap, 0 = by size.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t m = bnn::arg_count(info, 3, "m"), n = bnn::arg_count(info, 4, "n"), k = bnn::arg_count(info, 5, "k");
  const bool transA = bnn::arg_bool(info, 6, "transA"), transB = bnn::arg_bool(info, 7, "transB");
  const bool accumulate = bnn::arg_bool(info, 8, "accumulate");
  const uint64_t threads = bnn::arg_count(info, 9, "threads", 1024);
  const float* a = bnn::arg_floats(info, 0, "a", checked_mul(env, m, k, "m · k"));
  const float* b = bnn::arg_floats(info, 1, "b", checked_mul(env, k, n, "k · n"));
  float* c = bnn::arg_floats(info, 2, "c", checked_mul(env, m, n, "m · n"));
  bnn::sgemm(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c, n, accumulate, threads);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto names = Napi::Array::New(env, isas().size());
  for (size_t i = 0; i < isas().size(); i++) names.Set(i, Napi::String::New(env, isas()[i].name));
  exports.Set("isas", names);
  exports.Set("hardwareConcurrency", Napi::Number::New(env, std::thread::hardware_concurrency()));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("thresholdPack", Napi::Function::New(env, ThresholdPack));
  exports.Set("bitPlaneGemm", Napi::Function::New(env, BitPlaneGemm));
  exports.Set("roofline", Napi::Function::New(env, Roofline));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("sgemmIsa", Napi::String::New(env, bnn::sgemm_isa()));
  bnn::register_training_ops(env, exports);
  bnn::register_conv_ops(env, exports);
  bnn::register_pool_ops(env, exports);
  bnn::register_engine(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(xnor_native, Init)
