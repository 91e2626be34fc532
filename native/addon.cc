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

using bnn::checked_mul;
using bnn::Fields;

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

// Rows of K bits packed as described in xnor_common.h, `stride` 64-bit words each (padding bits 0).
struct GemmCall {
  const uint64_t* a;  // (M·planes, stride): `planes` rows per output row (1, or 8 for bitPlaneGemm)
  const uint64_t* b;  // (N,stride)
  int32_t* out;       // (M,N)
  uint64_t m, n, k;   // M, N, K
  uint64_t stride;    // in 64-bit words, a multiple of 8 (512 bits)
  uint64_t threads;   // at most this many threads (≥ 1)
  xnor::GemmFn fn;    // the micro-kernel of the instruction set asked for, else the best
};

// { a, b, m, n, k, stride, out, threads, isa? }, shared by gemm and bitPlaneGemm; `stride` is in 32-bit
// words (a multiple of 16), as JavaScript holds the rows.
GemmCall parse_gemm(const Napi::CallbackInfo& info, const char* function, uint64_t planes) {
  const Fields f(info, function, {"a", "b", "m", "n", "k", "stride", "out", "threads", "isa"});
  const Napi::Env env = f.env();
  GemmCall g{};
  g.m = f.count("m");
  g.n = f.count("n");
  g.k = f.count("k", planes > 1 ? 1ULL << 23 : 1ULL << 30);
  const uint64_t stride32 = f.count("stride");
  if (stride32 % 16 != 0) throw Napi::RangeError::New(env, "stride must be a multiple of 16 words (512 bits)");
  if (stride32 * 32 < g.k) throw Napi::RangeError::New(env, "stride is too short for k");
  g.threads = f.count("threads", 1024);
  if (g.threads == 0) throw Napi::RangeError::New(env, "threads must be at least 1");
  const uint64_t a_rows = checked_mul(env, g.m, planes, "m · rows per output");
  g.a = f.array<uint64_t>("a", napi_uint32_array, "Uint32Array", checked_mul(env, a_rows, stride32, "m · stride"));
  g.b = f.array<uint64_t>("b", napi_uint32_array, "Uint32Array", checked_mul(env, g.n, stride32, "n · stride"));
  g.out = f.array<int32_t>("out", napi_int32_array, "Int32Array", checked_mul(env, g.m, g.n, "m · n"));
  g.fn = isas().front().fn;
  if (f.has("isa")) {
    const std::string wanted = f.string("isa");
    const Isa* isa = nullptr;
    for (const auto& candidate : isas())
      if (wanted == candidate.name) isa = &candidate;
    if (!isa) throw Napi::RangeError::New(env, "instruction set '" + wanted + "' is not available on this CPU");
    g.fn = isa->fn;
  }
  g.stride = stride32 / 2;
  check_padding(env, g.a, a_rows, g.stride, g.k, "a");
  check_padding(env, g.b, g.n, g.stride, g.k, "b");
  return g;
}

// out (M,N) = a (M,K) · b (N,K)ᵀ over ±1 values: out[i·N + j] = Σ_k a_ik · b_jk.
void gemm(const GemmCall& g) {
  if (g.m == 0 || g.n == 0) return;
  xnor::parallel_gemm(g.fn, {g.a, g.b, g.stride, g.k, g.out, g.n, 0, g.m, 0, g.n}, g.threads);
}

// The first layer on bit planes (lib/kernels/firstLayer.ts): a holds 8 rows per input (planes 0..7),
//   out (M,N): out[i·N + j] = Σ_p 2^p · (a_{8i+p} · b_j),  a (8·M,K), b (N,K).
// Computed 8 inputs (64 plane rows) at a time into a per-thread buffer that stays in cache, so the 8×
// larger plane products never go to memory.
void bit_plane_gemm(const GemmCall& g) {
  if (g.m == 0 || g.n == 0) return;
  constexpr uint64_t kInputs = 8;
  // 8 plane products per output: 8× the binary work of a plain product (see parallel_gemm).
  bnn::parallel_for(g.m, kInputs, bnn::threads_for(double(g.m) * g.n * g.k, g.threads), [&](size_t lo, size_t hi) {
    std::vector<int32_t> planes(kInputs * 8 * g.n);
    for (uint64_t i0 = lo; i0 < hi; i0 += kInputs) {
      const uint64_t count = hi - i0 < kInputs ? hi - i0 : kInputs;
      g.fn(xnor::GemmArgs{g.a + i0 * 8 * g.stride, g.b, g.stride, g.k, planes.data(), g.n, 0, count * 8, 0, g.n});
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
}

// gemm({ a: Uint32Array, b: Uint32Array, m, n, k, stride, out: Int32Array, threads, isa?: string }): void
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  gemm(parse_gemm(info, "gemm", 1));
  return info.Env().Undefined();
}

// bitPlaneGemm({ a, b, m, n, k, stride, out, threads, isa? }): void, `a` with 8 plane rows per input.
Napi::Value BitPlaneGemm(const Napi::CallbackInfo& info) {
  bit_plane_gemm(parse_gemm(info, "bitPlaneGemm", 8));
  return info.Env().Undefined();
}

struct ThresholdPackArgs {
  const int32_t* scores;      // (M,N)
  const int32_t* thresholds;  // (N)
  const uint8_t* flips;       // (N), nonzero: compare −score
  uint32_t* out;              // (M,stride32) packed bits
  uint64_t m, n, stride32;    // stride32: 32-bit words per output row, a multiple of 16
};

// thresholdPack({ scores: Int32Array, m, n, thresholds: Int32Array, flips: Uint8Array, out: Uint32Array, stride })
ThresholdPackArgs parse_threshold_pack(const Napi::CallbackInfo& info) {
  const Fields f(info, "thresholdPack", {"scores", "m", "n", "thresholds", "flips", "out", "stride"});
  const Napi::Env env = f.env();
  ThresholdPackArgs p{};
  p.m = f.count("m");
  p.n = f.count("n", 1ULL << 30);
  p.stride32 = f.count("stride");
  if (p.stride32 % 16 != 0) throw Napi::RangeError::New(env, "stride must be a multiple of 16 words (512 bits)");
  if (p.stride32 * 32 < p.n) throw Napi::RangeError::New(env, "stride is too short for n");
  p.scores = f.array<int32_t>("scores", napi_int32_array, "Int32Array", checked_mul(env, p.m, p.n, "m · n"));
  p.thresholds = f.array<int32_t>("thresholds", napi_int32_array, "Int32Array", p.n);
  p.flips = f.array<uint8_t>("flips", napi_uint8_array, "Uint8Array", p.n);
  p.out = f.array<uint32_t>("out", napi_uint32_array, "Uint32Array", checked_mul(env, p.m, p.stride32, "m · stride"));
  return p;
}

// out bit j of row i = 1 (+1) where (flips[j] ? −s : s) ≥ thresholds[j], s = scores[i·N + j]: a BatchNorm
// followed by sign, folded into one integer comparison per neuron.
void threshold_pack(const ThresholdPackArgs& p) {
  for (uint64_t i = 0; i < p.m; i++) {
    const int32_t* row = p.scores + i * p.n;
    uint32_t* bits = p.out + i * p.stride32;
    for (uint64_t w = 0; w < p.stride32; w++) bits[w] = 0;
    for (uint64_t j = 0; j < p.n; j++) {
      const int32_t v = p.flips[j] ? -row[j] : row[j];
      bits[j >> 5] |= static_cast<uint32_t>(v >= p.thresholds[j]) << (j & 31);
    }
  }
}

Napi::Value ThresholdPack(const Napi::CallbackInfo& info) {
  threshold_pack(parse_threshold_pack(info));
  return info.Env().Undefined();
}

// roofline(seconds): binary MAC/s of the AVX-512 micro-kernel's inner loop, or null without VPOPCNTQ.
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

// Row-major and densely stored; c must not overlap a or b (the result would be wrong, though memory stays
// in bounds).
struct SgemmArgs {
  const float* a;  // (M,K), or (K,M) when transA
  const float* b;  // (K,N), or (N,K) when transB
  float* c;        // (M,N)
  uint64_t m, n, k;
  bool transA, transB, accumulate;
  uint64_t threads;  // a cap, 0 = by size
};

// sgemm({ a: Float32Array, b: Float32Array, c: Float32Array, m, n, k, transA, transB, accumulate, threads })
SgemmArgs parse_sgemm(const Napi::CallbackInfo& info) {
  const Fields f(info, "sgemm", {"a", "b", "c", "m", "n", "k", "transA", "transB", "accumulate", "threads"});
  const Napi::Env env = f.env();
  SgemmArgs p{};
  p.m = f.count("m"), p.n = f.count("n"), p.k = f.count("k");
  p.transA = f.boolean("transA"), p.transB = f.boolean("transB");
  p.accumulate = f.boolean("accumulate");
  p.threads = f.count("threads", 1024);
  p.a = f.floats("a", checked_mul(env, p.m, p.k, "m · k"));
  p.b = f.floats("b", checked_mul(env, p.k, p.n, "k · n"));
  p.c = f.floats("c", checked_mul(env, p.m, p.n, "m · n"));
  return p;
}

// c (M,N) = op(a) (M,K) · op(b) (K,N), plus c when `accumulate`.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const SgemmArgs p = parse_sgemm(info);
  bnn::sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.transA ? p.m : p.k, p.b, p.transB ? p.k : p.n, p.c, p.n,
             p.accumulate, p.threads);
  return info.Env().Undefined();
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
