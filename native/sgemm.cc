// Float GEMM entry point: picks the micro-kernel for this CPU, splits the product over the pool
// (parallel.h) and gives every thread its own reusable, 64-byte aligned packing buffers.
#include "sgemm.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "parallel.h"
#include "sgemm_kernels.h"

namespace bnn {
namespace {

using sgemm_impl::Args;
using sgemm_impl::Kernel;

Kernel pick_kernel() {
  const char* env = std::getenv("BNN_SGEMM_ISA");
  const std::string wanted = env ? env : "";
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  if (wanted != "avx2" && wanted != "scalar" && __builtin_cpu_supports("avx512f")) return sgemm_impl::kernel_avx512();
  if (wanted != "scalar" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return sgemm_impl::kernel_avx2();
#endif
  return sgemm_impl::kernel_scalar();
}

const Kernel& kernel() {
  static const Kernel k = pick_kernel();
  return k;
}

// Per-thread packing buffers, grown once and kept: fresh pages fault in on first touch, which on
// this kind of hypervisor can cost more than a small product's arithmetic.
struct Workspace {
  float* data = nullptr;
  size_t floats = 0;
  ~Workspace() { std::free(data); }
  float* get(size_t n) {
    if (n > floats) {
      std::free(data);
      const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data) {
        floats = 0;
        throw std::bad_alloc();
      }
      floats = n;
    }
    return data;
  }
};

thread_local Workspace workspace;

void run_part(const Kernel& kern, const Args& g) {
  const size_t a_floats = (kern.pack_a_floats + 15) / 16 * 16;
  float* pa = workspace.get(a_floats + kern.pack_b_floats);
  kern.run(g, pa, pa + a_floats);
}

}  // namespace

void sgemm(bool transA, bool transB, size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B,
           size_t ldb, float* C, size_t ldc, bool accumulate, size_t max_threads) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (size_t m = 0; m < M; m++) std::memset(C + m * ldc, 0, N * sizeof(float));
    return;
  }
  const Kernel& kern = kernel();
  const Args g{transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate};
  const size_t threads = threads_for(2.0 * M * N * K, max_threads);
  // Independent sub-products over the larger of M and N, in whole register tiles; each thread
  // packs its own panels (the duplicated packing of the other operand is O(1/size) of the work).
  if (N >= M) {
    parallel_for(N, kern.nr, threads, [&](size_t lo, size_t hi) {
      Args s = g;
      s.N = hi - lo;
      s.B = transB ? B + lo * ldb : B + lo;
      s.C = C + lo;
      run_part(kern, s);
    });
  } else {
    parallel_for(M, kern.mr, threads, [&](size_t lo, size_t hi) {
      Args s = g;
      s.M = hi - lo;
      s.A = transA ? A + lo : A + lo * lda;
      s.C = C + lo * ldc;
      run_part(kern, s);
    });
  }
}

const char* sgemm_isa() { return kernel().name; }

}  // namespace bnn
