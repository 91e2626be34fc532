// AVX2 + FMA float GEMM micro-kernel (compiled with -mavx2 -mfma): 6 × 16, i.e. 12 ymm
// accumulators, 2 B vectors and a broadcast of A — the classic Haswell-to-Zen 3 shape.
#include <immintrin.h>

#include "sgemm_kernels.h"

namespace {

struct Micro {
  static constexpr size_t MR = 6, NR = 16;
  static constexpr size_t MC = 384, KC = 256, NC = 512;

  template <size_t rows>
  static void tile(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool add) {
    __m256 acc[rows][2];
    for (size_t i = 0; i < rows; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (size_t k = 0; k < kc; k++, a += MR, b += NR) {
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
      for (size_t i = 0; i < rows; i++) {
        const __m256 av = _mm256_broadcast_ss(a + i);
        acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
      }
    }
    for (size_t i = 0; i < rows; i++)
      for (size_t v = 0; v < 2; v++) {
        float* p = c + i * ldc + 8 * v;
        _mm256_storeu_ps(p, add ? _mm256_add_ps(acc[i][v], _mm256_loadu_ps(p)) : acc[i][v]);
      }
  }

  // 8 × 8 floats transposed in registers, for the driver's pack_b_trans: r[i] holds row i, then column i.
  struct Transpose {
    static constexpr size_t W = 8;
    using V = __m256;
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static void run(V r[W]) {
      __m256 t[8], u[8];
      for (size_t i = 0; i < 8; i += 2) {  // per 128-bit lane L: (r_i, r_i+1) interleaved, columns 4L…4L+3
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
      }
      for (size_t i = 0; i < 8; i += 4) {  // u[i + c], lane L: rows i…i+3 of column 4L + c
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      for (size_t c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
      }
    }
  };
};

}  // namespace

#include "sgemm_driver.h"

namespace bnn::sgemm_impl {

Kernel kernel_avx2() { return micro_kernel("avx2-fma"); }

}  // namespace bnn::sgemm_impl
