// Single-precision GEMM for training: C = op(A)·op(B) (+ C when `accumulate`), row-major.
//   op(A) is M×K: A[m·lda + k], or with transA A[k·lda + m];
//   op(B) is K×N: B[k·ldb + n], or with transB B[n·ldb + k];
//   C is M×N: C[m·ldc + n].
// Cache-blocked and packed (BLIS design), register-blocked FMA micro-kernels picked at run time
// (AVX-512, AVX2+FMA, portable), parallel on the shared pool (parallel.h).
#pragma once
#include <cstddef>

namespace bnn {

void sgemm(bool transA, bool transB, size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B,
           size_t ldb, float* C, size_t ldc, bool accumulate, size_t max_threads /* 0 = choose from the work size */);

// The micro-kernel in use ("avx512", "avx2-fma", "scalar"); BNN_SGEMM_ISA=avx2|scalar forces a lesser one.
const char* sgemm_isa();

}  // namespace bnn
