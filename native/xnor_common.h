// Shared declarations of the XNOR-popcount GEMM kernels.
//
// Layout ("packed bits"): a ±1 matrix with R rows and K columns is stored row-major as 64-bit
// words, bit k%64 of word k/64 is 1 for +1 and 0 for −1, and each row takes `stride` words, a
// multiple of 8 (one 512-bit vector), with all padding bits 0. For two such rows
// a·b = K − 2·popcount(a XOR b): padding bits are 0 in both and add nothing.
#pragma once
#include <cstddef>
#include <cstdint>

namespace xnor {

struct GemmArgs {
  const uint64_t* a;  // M rows (the left matrix)
  const uint64_t* b;  // N rows (the right matrix, transposed: one row per output column)
  size_t stride;      // words per row of both, multiple of 8
  size_t K;           // true number of ±1 values per row
  int32_t* c;         // M × N, row-major, leading dimension ldc
  size_t ldc;
  size_t m0, m1;      // rows of C computed by this call: [m0, m1)
  size_t n0, n1;      // columns of C computed by this call: [n0, n1)
};

using GemmFn = void (*)(const GemmArgs&);

// The fastest kernel this CPU supports (addon.cc), for the training ops' binary products.
GemmFn best_gemm();

// Runs `fn` over the block of `whole` on the shared pool (parallel.h), with as many threads as its
// size is worth and at most `max_threads` (0: no cap).
void parallel_gemm(GemmFn fn, const GemmArgs& whole, size_t max_threads = 0);

// One per instruction set, each in its own translation unit compiled for that target.
void gemm_scalar(const GemmArgs&);
#if defined(__x86_64__) || defined(_M_X64)
void gemm_popcnt(const GemmArgs&);
void gemm_avx2(const GemmArgs&);
void gemm_avx512(const GemmArgs&);
// XOR + VPOPCNTQ + ADD on registers only: binary multiply-accumulates per second, one thread.
double roofline_avx512(double seconds);
#endif
#if defined(__aarch64__)
void gemm_neon(const GemmArgs&);
#endif

}  // namespace xnor
