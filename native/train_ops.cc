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

// matmul(a, b, c, batch, m, n, k, transA, transB, batchA, batchB, binary): "xnor" | "float"
//   c[p] (m×n) = op(a[p mod batchA])·op(b[p mod batchB]) for p < batch, with batchA, batchB ∈ {1, batch};
//   `binary` allows the XNOR path (taken only where both operands are all ±1 and k < 2^24, so
//   that the float result is the exact integer).
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t batch = arg_count(info, 3, "batch"), m = arg_count(info, 4, "m"), n = arg_count(info, 5, "n"),
                 k = arg_count(info, 6, "k");
  const bool transA = arg_bool(info, 7, "transA"), transB = arg_bool(info, 8, "transB");
  const uint64_t batchA = arg_count(info, 9, "batchA"), batchB = arg_count(info, 10, "batchB");
  const bool binary = arg_bool(info, 11, "binary");
  if ((batchA != 1 && batchA != batch) || (batchB != 1 && batchB != batch))
    throw Napi::RangeError::New(env, "batchA and batchB must be 1 or batch");
  const uint64_t sizeA = checked_mul(env, m, k, "m·k"), sizeB = checked_mul(env, k, n, "k·n"),
                 sizeC = checked_mul(env, m, n, "m·n");
  const float* A = arg_floats(info, 0, "a", checked_mul(env, batchA, sizeA, "batchA·m·k"));
  const float* B = arg_floats(info, 1, "b", checked_mul(env, batchB, sizeB, "batchB·k·n"));
  float* C = arg_floats(info, 2, "c", checked_mul(env, batch, sizeC, "batch·m·n"));
  static XnorBuffers buffers;
  bool used_xnor = false;
  for (uint64_t p = 0; p < batch; p++) {
    const float* a = A + (batchA == 1 ? 0 : p * sizeA);
    const float* b = B + (batchB == 1 ? 0 : p * sizeB);
    float* c = C + p * sizeC;
    const bool xnor = binary && k >= 64 && k < (1u << 24) && m * n >= 64 &&
                      try_xnor_matmul(transA, transB, m, n, k, a, b, c, buffers);
    if (!xnor) sgemm(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c, n, false, 0);
    used_xnor = used_xnor || xnor;
  }
  return Napi::String::New(env, used_xnor ? "xnor" : "float");
}


// sign(x, out, n): out = x ≥ 0 ? +1 : −1 (0 → +1, as everywhere in this project).
Napi::Value Sign(const Napi::CallbackInfo& info) {
  const uint64_t n = arg_count(info, 2, "n");
  const float* x = arg_floats(info, 0, "x", n);
  float* out = arg_floats(info, 1, "out", n);
  parallel_for(n, 4096, threads_for_elements(n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) out[i] = x[i] >= 0.f ? 1.f : -1.f;
  });
  return info.Env().Undefined();
}

// steGrad(dy, x, out, n): out = dy · 1_{|x| ≤ 1}, the straight-through estimator with gradient cancellation.
Napi::Value SteGrad(const Napi::CallbackInfo& info) {
  const uint64_t n = arg_count(info, 3, "n");
  const float* dy = arg_floats(info, 0, "dy", n);
  const float* x = arg_floats(info, 1, "x", n);
  float* out = arg_floats(info, 2, "out", n);
  parallel_for(n, 4096, threads_for_elements(n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) out[i] = std::fabs(x[i]) <= 1.f ? dy[i] : 0.f;
  });
  return info.Env().Undefined();
}

// dropoutMask(out, n, rate, seed): out[i] = 1/(1 − rate) where u_i ≥ rate, else 0, with u_i uniform in
// [0, 1) from a counter-based generator (SplitMix64 of seed + i): the same mask for the same seed
// whatever the thread count, and no generator state to carry between calls.
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t n = arg_count(info, 1, "n");
  float* out = arg_floats(info, 0, "out", n);
  const double rate = arg_number(info, 2, "rate");
  const uint64_t seed = arg_count(info, 3, "seed");
  if (!(rate >= 0 && rate < 1)) throw Napi::RangeError::New(env, "rate must be in [0, 1)");
  const float keep = float(1.0 / (1.0 - rate));
  // u ≥ rate on 24-bit draws u = k / 2^24 ⇔ k ≥ ⌈rate · 2^24⌉.
  const uint64_t threshold = uint64_t(std::ceil(rate * double(1u << 24)));
  parallel_for(n, 4096, threads_for_elements(n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
      uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      z ^= z >> 31;
      out[i] = (z >> 40) >= threshold ? keep : 0.f;
    }
  });
  return env.Undefined();
}

// AP2(x) = sign(x)·2^round(log2|x|) (lib/shift.ts), round half to even as tf.round.
inline float ap2(float x) {
  if (x == 0.f) return 0.f;
  const float mag = std::exp2(std::nearbyint(std::log(std::fabs(x)) / float(M_LN2)));
  return x < 0.f ? -mag : mag;
}

// optimizerStep(kind, w, g, m, v, n, stepScale, beta1, beta2, epsilon, clip): one fused pass, in place.
//   kind 0, Adam:  m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w −= stepScale · m / (√v + ε)
//   kind 1, shift-based AdaMax (Algorithm 4): v = max(β2·v, |g|); w −= stepScale · m · AP2(1 / (v + ε))
//   then w is clipped to [−clip, clip] when clip > 0. stepScale carries the learning rate, the bias
//   correction and the Glorot scale (computed once per parameter in JavaScript).
Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t kind = arg_count(info, 0, "kind", 1);
  const uint64_t n = arg_count(info, 5, "n");
  float* w = arg_floats(info, 1, "w", n);
  const float* g = arg_floats(info, 2, "g", n);
  float* m = arg_floats(info, 3, "m", n);
  float* v = arg_floats(info, 4, "v", n);
  const float scale = float(arg_number(info, 6, "stepScale"));
  const float b1 = float(arg_number(info, 7, "beta1")), b2 = float(arg_number(info, 8, "beta2"));
  const float eps = float(arg_number(info, 9, "epsilon")), clip = float(arg_number(info, 10, "clip"));
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw Napi::RangeError::New(env, "beta1 and beta2 must be in [0, 1)");
  if (!(eps > 0) || clip < 0) throw Napi::RangeError::New(env, "epsilon must be > 0 and clip ≥ 0");
  const float c1 = 1.f - b1, c2 = 1.f - b2;
  parallel_for(n, 4096, threads_for_elements(n), [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * c1;
      float vi, step;
      if (kind == 0) {
        vi = v[i] * b2 + gi * gi * c2;
        step = mi / (std::sqrt(vi) + eps) * scale;
      } else {
        vi = std::max(v[i] * b2, std::fabs(gi));
        step = mi * ap2(1.f / (vi + eps)) * scale;
      }
      float wi = w[i] - step;
      if (clip > 0) wi = std::min(clip, std::max(-clip, wi));
      m[i] = mi, v[i] = vi, w[i] = wi;
    }
  });
  return env.Undefined();
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

// batchNormTrain(x, gamma, beta, y, mean, variance, rows, channels, epsilon): BatchNorm in training
// over the rows of x (rows = N·H·W, channels last): batch mean and (biased) variance per channel,
// then y = γ·(x − μ)/√(σ² + ε) + β. Two passes for the variance, as tf.moments.
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t R = arg_count(info, 6, "rows"), C = arg_count(info, 7, "channels");
  const float eps = float(arg_number(info, 8, "epsilon"));
  if (R == 0 || C == 0) throw Napi::RangeError::New(env, "rows and channels must be at least 1");
  const uint64_t n = checked_mul(env, R, C, "rows·channels");
  const float* x = arg_floats(info, 0, "x", n);
  const float* gamma = arg_floats(info, 1, "gamma", C);
  const float* beta = arg_floats(info, 2, "beta", C);
  float* y = arg_floats(info, 3, "y", n);
  float* mean = arg_floats(info, 4, "mean", C);
  float* variance = arg_floats(info, 5, "variance", C);
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
  return env.Undefined();
}

// batchNormGrad(dy, x, gamma, mean, variance, dx, dgamma, dbeta, rows, channels, epsilon): the
// gradient of batchNormTrain through the batch statistics too, with x̂ = (x − μ)/√(σ² + ε):
//   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/√(σ² + ε) · (dy − dβ/R − x̂·dγ/R).
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const uint64_t R = arg_count(info, 8, "rows"), C = arg_count(info, 9, "channels");
  const float eps = float(arg_number(info, 10, "epsilon"));
  if (R == 0 || C == 0) throw Napi::RangeError::New(env, "rows and channels must be at least 1");
  const uint64_t n = checked_mul(env, R, C, "rows·channels");
  const float* dy = arg_floats(info, 0, "dy", n);
  const float* x = arg_floats(info, 1, "x", n);
  const float* gamma = arg_floats(info, 2, "gamma", C);
  const float* mean = arg_floats(info, 3, "mean", C);
  const float* variance = arg_floats(info, 4, "variance", C);
  float* dx = arg_floats(info, 5, "dx", n);
  float* dgamma = arg_floats(info, 6, "dgamma", C);
  float* dbeta = arg_floats(info, 7, "dbeta", C);
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
  return env.Undefined();
}

}  // namespace

void register_training_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("sign", Napi::Function::New(env, Sign));
  exports.Set("steGrad", Napi::Function::New(env, SteGrad));
  exports.Set("optimizerStep", Napi::Function::New(env, OptimizerStep));
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("dropoutMask", Napi::Function::New(env, DropoutMask));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("poolThreads", Napi::Number::New(env, double(pool_threads())));
}

}  // namespace bnn
