// Portable float GEMM micro-kernel: a 4 × 8 tile of plain loops that any compiler keeps in
// registers (and auto-vectorises where it can), behind the same packing and blocking.
#include "sgemm_kernels.h"

namespace {

struct Micro {
  static constexpr size_t MR = 4, NR = 8;
  static constexpr size_t MC = 256, KC = 256, NC = 512;

  template <size_t rows>
  static void tile(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool add) {
    float acc[rows][NR] = {};
    for (size_t k = 0; k < kc; k++, a += MR, b += NR)
      for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < NR; j++) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

}  // namespace

#include "sgemm_driver.h"

namespace bnn::sgemm_impl {

Kernel kernel_scalar() { return micro_kernel("scalar"); }

}  // namespace bnn::sgemm_impl
