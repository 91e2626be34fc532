// AVX-512 float GEMM micro-kernel (compiled with -mavx512f): 14 × 32, i.e. 28 zmm accumulators,
// 2 B vectors and the broadcast A value fold into the FMA (embedded broadcast) — 31 of 32 registers.
#include <immintrin.h>

#include "sgemm_kernels.h"

namespace {

#ifndef SGEMM512_MR
#define SGEMM512_MR 6
#define SGEMM512_NV 4
#define SGEMM512_MC 288
#define SGEMM512_KC 384
#define SGEMM512_NC 384
#endif

struct Micro {
  static constexpr size_t NV = SGEMM512_NV;  // vectors per row of the tile
  static constexpr size_t MR = SGEMM512_MR, NR = 16 * NV;
  static constexpr size_t MC = SGEMM512_MC, KC = SGEMM512_KC, NC = SGEMM512_NC;
  static_assert(MC % MR == 0 && NC % NR == 0, "blocks are whole tiles");

  template <size_t rows>
  static void tile(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool add) {
    __m512 acc[rows][NV];
    for (size_t i = 0; i < rows; i++)
      for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (size_t k = 0; k < kc; k++, a += MR, b += NR) {
      __m512 bv[NV];
      for (size_t v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + 16 * v);
      for (size_t i = 0; i < rows; i++) {
        const __m512 av = _mm512_set1_ps(a[i]);
        for (size_t v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
    for (size_t i = 0; i < rows; i++)
      for (size_t v = 0; v < NV; v++) {
        float* p = c + i * ldc + 16 * v;
        _mm512_storeu_ps(p, add ? _mm512_add_ps(acc[i][v], _mm512_loadu_ps(p)) : acc[i][v]);
      }
  }
};

}  // namespace

#include "sgemm_driver.h"

namespace bnn::sgemm_impl {

Kernel kernel_avx512() { return micro_kernel("avx512"); }

}  // namespace bnn::sgemm_impl
