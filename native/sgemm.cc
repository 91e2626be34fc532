// Placeholder: a correct, slow float GEMM; replaced by the blocked, vectorised one.
#include "sgemm.h"

namespace bnn {

void sgemm(bool transA, bool transB, size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B, size_t ldb, float* C,
           size_t ldc, bool accumulate, size_t) {
  for (size_t m = 0; m < M; m++)
    for (size_t n = 0; n < N; n++) {
      float s = accumulate ? C[m * ldc + n] : 0.f;
      for (size_t k = 0; k < K; k++) s += (transA ? A[k * lda + m] : A[m * lda + k]) * (transB ? B[n * ldb + k] : B[k * ldb + n]);
      C[m * ldc + n] = s;
    }
}

const char* sgemm_isa() { return "scalar"; }

}  // namespace bnn
