// Internal interface between the float GEMM's dispatcher (sgemm.cc) and its per-instruction-set
// translation units (sgemm_avx512.cc, sgemm_avx2.cc, sgemm_scalar.cc), each compiled with its own
// -m flags. Only plain structs and functions cross this boundary (no std templates: see the ODR
// note in gemm_driver.h).
#pragma once
#include <cstddef>

namespace bnn::sgemm_impl {

// One sub-problem, with the semantics of bnn::sgemm (see sgemm.h).
struct Args {
  bool transA, transB;
  size_t M, N, K;
  const float* A;
  size_t lda;
  const float* B;
  size_t ldb;
  float* C;
  size_t ldc;
  bool accumulate;
};

struct Kernel {
  const char* name;
  size_t pack_a_floats, pack_b_floats;  // workspace the kernel needs (64-byte aligned buffers)
  size_t mr, nr;                        // register tile: work is split in whole tiles
  void (*run)(const Args&, float* pack_a, float* pack_b);
};

Kernel kernel_scalar();
#if defined(__x86_64__) || defined(_M_X64)
Kernel kernel_avx2();
Kernel kernel_avx512();
#endif

}  // namespace bnn::sgemm_impl
