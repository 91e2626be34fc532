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

  // 16 × 16 floats transposed in registers, for the driver's pack_b_trans: r[i] holds row i, then column i.
  struct Transpose {
    static constexpr size_t W = 16;
    using V = __m512;
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static void run(V r[W]) {
      __m512 t[16], u[16];
      for (size_t i = 0; i < 16; i += 2) {  // per 128-bit lane L: (r_i, r_i+1) interleaved, columns 4L…4L+3
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
      }
      for (size_t i = 0; i < 16; i += 4) {  // u[i + c], lane L: rows i…i+3 of column 4L + c
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      for (size_t c = 0; c < 4; c++) {  // gather lane L of the four row groups: column 4L + c
        const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        const __m512 w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        const __m512 w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[c + 4] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[c + 8] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
        r[c + 12] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
      }
    }
  };
};

}  // namespace

#include "sgemm_driver.h"

namespace bnn::sgemm_impl {

Kernel kernel_avx512() { return micro_kernel("avx512"); }

}  // namespace bnn::sgemm_impl
