// Native kernels for training, called by lib/tfjs/nativeKernels.ts on tensors that live in the
// wasm backend's heap: JavaScript passes Float32Array views of that heap, so nothing is copied
// between wasm and native memory (see the TypeScript side for why this design). Every function
// validates its arguments first; all of them run on the shared pool (parallel.h).
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bit_pack.h"
#include "napi_args.h"
#include "parallel.h"
#include "register.h"
#include "sgemm.h"
#include "simd_clones.h"
#include "xnor_common.h"

namespace bnn {
namespace {

// Packed operands of the last binary product, reused so that their pages are faulted in once.
struct XnorBuffers {
  std::vector<uint64_t> a, b;
  std::vector<int32_t> c;
};

// C (m×n) = op(A)·op(B) through the XNOR GEMM when both operands are all ±1; false (C untouched
// beyond scratch) as soon as a value is not, so the float GEMM runs instead.
bool try_xnor_matmul(bool transA, bool transB, size_t m, size_t n, size_t k, const float* A, const float* B, float* C,
                     XnorBuffers& buf) {
  const size_t stride = (k + 511) / 512 * 8;  // words, a multiple of one 512-bit vector
  buf.a.resize(m * stride);
  buf.b.resize(n * stride);
  buf.c.resize(m * n);
  std::atomic<bool> ok{true};
  const size_t pack_threads = threads_for_elements(double(m + n) * double(k));
  // op(A) rows along K: A is m×k (rows) or, transposed, k×m (columns).
  parallel_for(m, 64, pack_threads, [&](size_t lo, size_t hi) {
    if (!ok.load(std::memory_order_relaxed)) return;
    const bool good = transA ? pack_cols(A, m, k, lo, hi, buf.a.data(), stride)
                             : pack_rows(A, k, k, lo, hi, buf.a.data(), stride);
    if (!good) ok = false;
  });
  if (!ok) return false;
  // op(B) columns along K: B is k×n (columns) or, transposed, n×k (rows).
  parallel_for(n, 64, pack_threads, [&](size_t lo, size_t hi) {
    if (!ok.load(std::memory_order_relaxed)) return;
    const bool good = transB ? pack_rows(B, k, k, lo, hi, buf.b.data(), stride)
                             : pack_cols(B, n, k, lo, hi, buf.b.data(), stride);
    if (!good) ok = false;
  });
  if (!ok) return false;
  xnor::parallel_gemm(xnor::best_gemm(), {buf.a.data(), buf.b.data(), stride, k, buf.c.data(), n, 0, m, 0, n});
  parallel_for(m * n, 4096, threads_for_elements(double(m) * n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) C[i] = static_cast<float>(buf.c[i]);
  });
  return true;
}

struct MatmulArgs {
  const float* a;           // (batchA, M,K), or (batchA, K,M) when transA
  const float* b;           // (batchB, K,N), or (batchB, N,K) when transB
  float* c;                 // (batch, M,N)
  uint64_t batch, m, n, k;
  bool transA, transB;
  uint64_t batchA, batchB;  // 1 (one matrix for every product) or batch
  bool binary;              // allows the XNOR path
};

// matmul({ a, b, c, batch, m, n, k, transA, transB, batchA, batchB, binary }): "xnor" | "float"
MatmulArgs parse_matmul(const Napi::CallbackInfo& info) {
  const Fields f(info, "matmul",
                 {"a", "b", "c", "batch", "m", "n", "k", "transA", "transB", "batchA", "batchB", "binary"});
  const Napi::Env env = f.env();
  MatmulArgs p{};
  p.batch = f.count("batch"), p.m = f.count("m"), p.n = f.count("n"), p.k = f.count("k");
  p.transA = f.boolean("transA"), p.transB = f.boolean("transB");
  p.batchA = f.count("batchA"), p.batchB = f.count("batchB");
  p.binary = f.boolean("binary");
  if ((p.batchA != 1 && p.batchA != p.batch) || (p.batchB != 1 && p.batchB != p.batch))
    throw Napi::RangeError::New(env, "batchA and batchB must be 1 or batch");
  const uint64_t sizeA = checked_mul(env, p.m, p.k, "m·k"), sizeB = checked_mul(env, p.k, p.n, "k·n"),
                 sizeC = checked_mul(env, p.m, p.n, "m·n");
  p.a = f.floats("a", checked_mul(env, p.batchA, sizeA, "batchA·m·k"));
  p.b = f.floats("b", checked_mul(env, p.batchB, sizeB, "batchB·k·n"));
  p.c = f.floats("c", checked_mul(env, p.batch, sizeC, "batch·m·n"));
  return p;
}

// c[q] (M,N) = op(a[q mod batchA]) (M,K) · op(b[q mod batchB]) (K,N), for q < batch. Through the XNOR GEMM
// where `binary` allows it and both operands are all ±1 with K < 2^24 (so that the float result is the exact
// integer); true when it was taken for any q.
bool matmul(const MatmulArgs& p) {
  static XnorBuffers buffers;
  const size_t sizeA = p.m * p.k, sizeB = p.k * p.n, sizeC = p.m * p.n;
  bool used_xnor = false;
  for (uint64_t q = 0; q < p.batch; q++) {
    const float* a = p.a + (p.batchA == 1 ? 0 : q * sizeA);
    const float* b = p.b + (p.batchB == 1 ? 0 : q * sizeB);
    float* c = p.c + q * sizeC;
    const bool xnor = p.binary && p.k >= 64 && p.k < (1u << 24) && p.m * p.n >= 64 &&
                      try_xnor_matmul(p.transA, p.transB, p.m, p.n, p.k, a, b, c, buffers);
    if (!xnor)
      sgemm(p.transA, p.transB, p.m, p.n, p.k, a, p.transA ? p.m : p.k, b, p.transB ? p.k : p.n, c, p.n, false, 0);
    used_xnor = used_xnor || xnor;
  }
  return used_xnor;
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), matmul(parse_matmul(info)) ? "xnor" : "float");
}

struct SignArgs {
  const float* x;  // (N)
  float* out;      // (N)
  uint64_t n;
};

// sign({ x, out, n })
SignArgs parse_sign(const Napi::CallbackInfo& info) {
  const Fields f(info, "sign", {"x", "out", "n"});
  SignArgs p{};
  p.n = f.count("n");
  p.x = f.floats("x", p.n);
  p.out = f.floats("out", p.n);
  return p;
}

// out = x ≥ 0 ? +1 : −1 (0 → +1, as everywhere in this project).
void sign(const SignArgs& p) {
  const float* x = p.x;
  float* out = p.out;
  parallel_for(p.n, 4096, threads_for_elements(p.n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) out[i] = x[i] >= 0.f ? 1.f : -1.f;
  });
}

Napi::Value Sign(const Napi::CallbackInfo& info) {
  sign(parse_sign(info));
  return info.Env().Undefined();
}

struct SteGradArgs {
  const float* dy;  // (N)
  const float* x;   // (N)
  float* out;       // (N)
  uint64_t n;
};

// steGrad({ dy, x, out, n })
SteGradArgs parse_ste_grad(const Napi::CallbackInfo& info) {
  const Fields f(info, "steGrad", {"dy", "x", "out", "n"});
  SteGradArgs p{};
  p.n = f.count("n");
  p.dy = f.floats("dy", p.n);
  p.x = f.floats("x", p.n);
  p.out = f.floats("out", p.n);
  return p;
}

// out = dy · 1_{|x| ≤ 1}, the straight-through estimator with gradient cancellation. dy is read
// whatever the mask, so that the select compiles to vector compares and ands: read only where the
// mask is set, it was a branch per element, mispredicted on half of them (10× the time of sign()).
void ste_grad(const SteGradArgs& p) {
  const float *dy = p.dy, *x = p.x;
  float* out = p.out;
  parallel_for(p.n, 4096, threads_for_elements(p.n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
      const float g = dy[i];
      out[i] = std::fabs(x[i]) <= 1.f ? g : 0.f;
    }
  });
}

struct AbsAtMostOneArgs {
  const float* x;  // (N)
  uint64_t n;
};

// absAtMostOne({ x, n })
AbsAtMostOneArgs parse_abs_at_most_one(const Napi::CallbackInfo& info) {
  const Fields f(info, "absAtMostOne", {"x", "n"});
  AbsAtMostOneArgs p{};
  p.n = f.count("n");
  p.x = f.floats("x", p.n);
  return p;
}

// Whether every |x[i]| ≤ 1 (NaN is not): then the STE cancels nothing and its gradient is dy
// itself. Latent weights clipped to [−H, H] are always so, and one read of x replaces reading x
// and dy and writing a copy of dy (a third of the traffic). Blocks of a chunk stop once any fails.
bool abs_at_most_one(const AbsAtMostOneArgs& p) {
  const float* x = p.x;
  std::atomic<bool> ok{true};
  constexpr size_t kBlock = 4096;
  parallel_for(p.n, kBlock, threads_for_elements(p.n), [&](size_t lo, size_t hi) {
    for (size_t b = lo; b < hi && ok.load(std::memory_order_relaxed); b += kBlock) {
      unsigned out = 0;
      for (size_t i = b, e = std::min(hi, b + kBlock); i < e; i++) out |= !(std::fabs(x[i]) <= 1.f);
      if (out) ok.store(false, std::memory_order_relaxed);
    }
  });
  return ok.load();
}

Napi::Value AbsAtMostOne(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), abs_at_most_one(parse_abs_at_most_one(info)));
}

Napi::Value SteGrad(const Napi::CallbackInfo& info) {
  ste_grad(parse_ste_grad(info));
  return info.Env().Undefined();
}

struct DropoutMaskArgs {
  float* out;     // (N)
  uint64_t n;
  double rate;    // in [0, 1)
  uint64_t seed;  // < 2^53
};

// dropoutMask({ out, n, rate, seed })
DropoutMaskArgs parse_dropout_mask(const Napi::CallbackInfo& info) {
  const Fields f(info, "dropoutMask", {"out", "n", "rate", "seed"});
  DropoutMaskArgs p{};
  p.n = f.count("n");
  p.out = f.floats("out", p.n);
  p.rate = f.number("rate");
  p.seed = f.count("seed");
  if (!(p.rate >= 0 && p.rate < 1)) throw Napi::RangeError::New(f.env(), "rate must be in [0, 1)");
  return p;
}

// out[i] = 1/(1 − rate) where u_i ≥ rate, else 0, with u_i uniform in [0, 1) from a counter-based
// generator (SplitMix64 of seed + i): the same mask for the same seed whatever the thread count, and no
// generator state to carry between calls.
// Elements [lo, hi) of the mask: element i keeps where the top 24 bits of SplitMix64(seed, i + 1)
// reach `threshold`. Cloned for AVX-512 and AVX2, where its 64-bit products vectorize (SSE2 has none).
BNN_SIMD_CLONES void dropout_mask_range(uint64_t seed, uint64_t threshold, float keep, float* out, size_t lo,
                                        size_t hi) {
  for (size_t i = lo; i < hi; i++) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    out[i] = (z >> 40) >= threshold ? keep : 0.f;
  }
}

void dropout_mask(const DropoutMaskArgs& p) {
  const float keep = float(1.0 / (1.0 - p.rate));
  // u ≥ rate on 24-bit draws u = k / 2^24 ⇔ k ≥ ⌈rate · 2^24⌉.
  const uint64_t threshold = uint64_t(std::ceil(p.rate * double(1u << 24)));
  parallel_for(p.n, 4096, threads_for_elements(p.n), [&](size_t lo, size_t hi) {
    dropout_mask_range(p.seed, threshold, keep, p.out, lo, hi);
  });
}

Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  dropout_mask(parse_dropout_mask(info));
  return info.Env().Undefined();
}

// AP2(x) = sign(x)·2^round(log2|x|) (lib/shift.ts), round half to even as tf.round.
inline float ap2(float x) {
  if (x == 0.f) return 0.f;
  const float mag = std::exp2(std::nearbyint(std::log(std::fabs(x)) / float(M_LN2)));
  return x < 0.f ? -mag : mag;
}

struct OptimizerStepArgs {
  uint64_t kind;   // 0 Adam, 1 shift-based AdaMax
  float* w;        // (N) parameter, updated in place
  const float* g;  // (N) gradient
  float* m;        // (N) first moment, updated in place
  float* v;        // (N) second moment (AdaMax: infinity norm), updated in place
  uint64_t n;
  float stepScale, beta1, beta2, epsilon, clip;
};

// optimizerStep({ kind, w, g, m, v, n, stepScale, beta1, beta2, epsilon, clip })
OptimizerStepArgs parse_optimizer_step(const Napi::CallbackInfo& info) {
  const Fields f(info, "optimizerStep",
                 {"kind", "w", "g", "m", "v", "n", "stepScale", "beta1", "beta2", "epsilon", "clip"});
  const Napi::Env env = f.env();
  OptimizerStepArgs p{};
  p.kind = f.count("kind", 1);
  p.n = f.count("n");
  p.w = f.floats("w", p.n);
  p.g = f.floats("g", p.n);
  p.m = f.floats("m", p.n);
  p.v = f.floats("v", p.n);
  p.stepScale = float(f.number("stepScale"));
  p.beta1 = float(f.number("beta1")), p.beta2 = float(f.number("beta2"));
  p.epsilon = float(f.number("epsilon")), p.clip = float(f.number("clip"));
  if (!(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1))
    throw Napi::RangeError::New(env, "beta1 and beta2 must be in [0, 1)");
  if (!(p.epsilon > 0) || p.clip < 0) throw Napi::RangeError::New(env, "epsilon must be > 0 and clip ≥ 0");
  return p;
}

// One fused pass, in place:
//   kind 0, Adam:  m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w −= stepScale · m / (√v + ε)
//   kind 1, shift-based AdaMax (Algorithm 4): v = max(β2·v, |g|); w −= stepScale · m · AP2(1 / (v + ε))
//   then w is clipped to [−clip, clip] when clip > 0. stepScale carries the learning rate, the bias
//   correction and the Glorot scale (computed once per parameter in JavaScript).
void optimizer_step(const OptimizerStepArgs& p) {
  const uint64_t kind = p.kind;
  const float b1 = p.beta1, b2 = p.beta2, eps = p.epsilon, clip = p.clip, scale = p.stepScale;
  const float c1 = 1.f - b1, c2 = 1.f - b2;
  float *w = p.w, *m = p.m, *v = p.v;
  const float* g = p.g;
  // One loop per kind, so that Adam's (no calls, √ inlined: -fno-math-errno) compiles to vector
  // instructions; a step is memory-bound then (7 floats moved per weight), where the scalar √ and
  // division of a shared loop were not.
  const auto clipped = [clip](float wi) { return clip > 0 ? std::min(clip, std::max(-clip, wi)) : wi; };
  parallel_for(p.n, 4096, threads_for_elements(p.n), [=](size_t lo, size_t hi) {
    if (kind == 0) {
      for (size_t i = lo; i < hi; i++) {
        const float gi = g[i];
        const float mi = m[i] * b1 + gi * c1;
        const float vi = v[i] * b2 + gi * gi * c2;
        const float step = mi / (std::sqrt(vi) + eps) * scale;
        m[i] = mi, v[i] = vi, w[i] = clipped(w[i] - step);
      }
    } else {
      for (size_t i = lo; i < hi; i++) {
        const float gi = g[i];
        const float mi = m[i] * b1 + gi * c1;
        const float vi = std::max(v[i] * b2, std::fabs(gi));
        const float step = mi * ap2(1.f / (vi + eps)) * scale;
        m[i] = mi, v[i] = vi, w[i] = clipped(w[i] - step);
      }
    }
  });
}

Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  optimizer_step(parse_optimizer_step(info));
  return info.Env().Undefined();
}

// Per-channel sums over the rows of an R×C matrix, in double: sum s of channel c lands in
// out[s·C + c]. The summation order follows from R alone, never from the thread count (which
// depends on timing, see threads_for), so the result is the same bits on any number of threads:
// up to kRowsInOrder rows, threads split the channels and each sum runs over the rows in order;
// more rows go in at most kRowBlocks blocks of fixed rows, summed per block on any thread, then
// block after block. row_sum(r, c0, c1, acc) adds row r's channels [c0, c1) into acc[s·C + c].
constexpr size_t kRowsInOrder = 128, kRowBlocks = 32;
template <typename RowSum>
void channel_sums(uint64_t R, uint64_t C, size_t sums, std::vector<double>& out, const RowSum& row_sum) {
  const size_t threads = threads_for_elements(double(R) * C);
  const size_t block_rows = std::max<size_t>(kRowsInOrder, (R + kRowBlocks - 1) / kRowBlocks);
  const size_t blocks = (R + block_rows - 1) / block_rows;
  out.assign(sums * C, 0.0);
  if (blocks == 1) {
    // Channels in groups of 8: half a cache line of x, one AVX-512 vector of double sums.
    parallel_for(C, 8, threads, [&](size_t c0, size_t c1) {
      std::vector<double> acc(sums * C, 0.0);  // private to the thread: no false sharing
      for (size_t r = 0; r < R; r++) row_sum(r, c0, c1, acc.data());
      for (size_t s = 0; s < sums; s++)
        std::copy(acc.begin() + s * C + c0, acc.begin() + s * C + c1, out.begin() + s * C + c0);
    });
    return;
  }
  std::vector<double> partial(blocks * sums * C, 0.0);
  parallel_for(blocks, 1, threads, [&](size_t lo, size_t hi) {
    for (size_t b = lo; b < hi; b++)
      for (size_t r = b * block_rows; r < std::min<size_t>(R, (b + 1) * block_rows); r++)
        row_sum(r, 0, C, partial.data() + b * sums * C);
  });
  for (size_t b = 0; b < blocks; b++)
    for (size_t i = 0; i < sums * C; i++) out[i] += partial[b * sums * C + i];
}

// The rows R (N·H·W) and channels C (both ≥ 1, channels last) and epsilon of batchNormTrain and batchNormGrad,
// into p; returns R·C.
template <typename BatchNormArgs>
uint64_t parse_batch_norm_sizes(const Fields& f, BatchNormArgs& p) {
  p.rows = f.count("rows"), p.channels = f.count("channels");
  p.epsilon = float(f.number("epsilon"));
  if (p.rows == 0 || p.channels == 0) throw Napi::RangeError::New(f.env(), "rows and channels must be at least 1");
  return checked_mul(f.env(), p.rows, p.channels, "rows·channels");
}

struct BatchNormTrainArgs {
  const float* x;           // (R,C)
  const float* gamma;       // (C)
  const float* beta;        // (C)
  float* y;                 // (R,C)
  float* mean;              // (C) batch mean
  float* variance;          // (C) batch variance (biased)
  uint64_t rows, channels;  // R, C ≥ 1
  float epsilon;
};

// batchNormTrain({ x, gamma, beta, y, mean, variance, rows, channels, epsilon })
BatchNormTrainArgs parse_batch_norm_train(const Napi::CallbackInfo& info) {
  const Fields f(info, "batchNormTrain",
                 {"x", "gamma", "beta", "y", "mean", "variance", "rows", "channels", "epsilon"});
  BatchNormTrainArgs p{};
  const uint64_t n = parse_batch_norm_sizes(f, p), C = p.channels;
  p.x = f.floats("x", n);
  p.gamma = f.floats("gamma", C);
  p.beta = f.floats("beta", C);
  p.y = f.floats("y", n);
  p.mean = f.floats("mean", C);
  p.variance = f.floats("variance", C);
  return p;
}

// BatchNorm in training: batch mean μ and (biased) variance σ² per channel, then
// y = γ·(x − μ)/√(σ² + ε) + β. Two passes for the variance, as tf.moments.
void batch_norm_train(const BatchNormTrainArgs& p) {
  const size_t R = p.rows, C = p.channels, n = R * C;
  const float eps = p.epsilon;
  const float *x = p.x, *gamma = p.gamma, *beta = p.beta;
  float *y = p.y, *mean = p.mean, *variance = p.variance;
  std::vector<double> sums;
  channel_sums(R, C, 1, sums, [&](size_t r, size_t c0, size_t c1, double* acc) {
    const float* row = x + r * C;
    for (size_t c = c0; c < c1; c++) acc[c] += row[c];
  });
  std::vector<float> mu(C), scale(C), shift(C);
  for (size_t c = 0; c < C; c++) mu[c] = mean[c] = float(sums[c] / double(R));
  channel_sums(R, C, 1, sums, [&](size_t r, size_t c0, size_t c1, double* acc) {
    const float* row = x + r * C;
    for (size_t c = c0; c < c1; c++) {
      const float d = row[c] - mu[c];
      acc[c] += double(d) * d;
    }
  });
  for (size_t c = 0; c < C; c++) {
    variance[c] = float(sums[c] / double(R));
    scale[c] = gamma[c] / std::sqrt(variance[c] + eps);
    shift[c] = beta[c] - mu[c] * scale[c];
  }
  parallel_for(R, 16, threads_for_elements(n), [&](size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; r++) {
      const float* row = x + r * C;
      float* out = y + r * C;
      for (size_t c = 0; c < C; c++) out[c] = row[c] * scale[c] + shift[c];
    }
  });
}

Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  batch_norm_train(parse_batch_norm_train(info));
  return info.Env().Undefined();
}

struct BatchNormGradArgs {
  const float* dy;          // (R,C)
  const float* x;           // (R,C)
  const float* gamma;       // (C)
  const float* mean;        // (C) batchNormTrain's
  const float* variance;    // (C) batchNormTrain's
  float* dx;                // (R,C)
  float* dgamma;            // (C)
  float* dbeta;             // (C)
  uint64_t rows, channels;  // R, C ≥ 1
  float epsilon;
};

// batchNormGrad({ dy, x, gamma, mean, variance, dx, dgamma, dbeta, rows, channels, epsilon })
BatchNormGradArgs parse_batch_norm_grad(const Napi::CallbackInfo& info) {
  const Fields f(info, "batchNormGrad",
                 {"dy", "x", "gamma", "mean", "variance", "dx", "dgamma", "dbeta", "rows", "channels", "epsilon"});
  BatchNormGradArgs p{};
  const uint64_t n = parse_batch_norm_sizes(f, p), C = p.channels;
  p.dy = f.floats("dy", n);
  p.x = f.floats("x", n);
  p.gamma = f.floats("gamma", C);
  p.mean = f.floats("mean", C);
  p.variance = f.floats("variance", C);
  p.dx = f.floats("dx", n);
  p.dgamma = f.floats("dgamma", C);
  p.dbeta = f.floats("dbeta", C);
  return p;
}

// The gradient of batch_norm_train through the batch statistics too, with x̂ = (x − μ)/√(σ² + ε):
//   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/√(σ² + ε) · (dy − dβ/R − x̂·dγ/R).
void batch_norm_grad(const BatchNormGradArgs& p) {
  const size_t R = p.rows, C = p.channels, n = R * C;
  const float eps = p.epsilon;
  const float *dy = p.dy, *x = p.x, *gamma = p.gamma, *mean = p.mean, *variance = p.variance;
  float *dx = p.dx, *dgamma = p.dgamma, *dbeta = p.dbeta;
  std::vector<float> rstd(C);
  for (size_t c = 0; c < C; c++) rstd[c] = 1.f / std::sqrt(variance[c] + eps);
  std::vector<double> sums;  // [Σ dy | Σ dy·x̂]
  channel_sums(R, C, 2, sums, [&](size_t r, size_t c0, size_t c1, double* acc) {
    const float* g = dy + r * C;
    const float* row = x + r * C;
    for (size_t c = c0; c < c1; c++) {
      acc[c] += g[c];
      acc[C + c] += double(g[c]) * ((row[c] - mean[c]) * rstd[c]);
    }
  });
  std::vector<float> k(C), b(C), a(C);
  for (size_t c = 0; c < C; c++) {
    dbeta[c] = float(sums[c]);
    dgamma[c] = float(sums[C + c]);
    a[c] = gamma[c] * rstd[c];                           // dx = a·dy − k·x̂ − b
    b[c] = float(a[c] * sums[c] / double(R));
    k[c] = float(a[c] * sums[C + c] / double(R));
  }
  parallel_for(R, 16, threads_for_elements(n), [&](size_t lo, size_t hi) {
    for (size_t r = lo; r < hi; r++) {
      const float* g = dy + r * C;
      const float* row = x + r * C;
      float* out = dx + r * C;
      for (size_t c = 0; c < C; c++) out[c] = a[c] * g[c] - k[c] * ((row[c] - mean[c]) * rstd[c]) - b[c];
    }
  });
}

Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  batch_norm_grad(parse_batch_norm_grad(info));
  return info.Env().Undefined();
}

}  // namespace

void register_training_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("sign", Napi::Function::New(env, Sign));
  exports.Set("steGrad", Napi::Function::New(env, SteGrad));
  exports.Set("absAtMostOne", Napi::Function::New(env, AbsAtMostOne));
  exports.Set("optimizerStep", Napi::Function::New(env, OptimizerStep));
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("dropoutMask", Napi::Function::New(env, DropoutMask));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("poolThreads", Napi::Number::New(env, double(pool_threads())));
}

}  // namespace bnn
