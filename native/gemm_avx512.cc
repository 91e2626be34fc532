// AVX-512 with VPOPCNTDQ (compiled with -mavx512f -mavx512vpopcntdq): one XOR, one VPOPCNTQ and
// one VPADDQ per 512 binary multiply-accumulates.
#include <immintrin.h>
#include <time.h>
#include <utility>
#include "xnor_common.h"

namespace {
// 4 × 4 accumulators + 4 B vectors + 1 A vector = 21 of the 32 vector registers. (-DXNOR_MR=6
// -DXNOR_NR=4 etc. to try other blockings; 4 × 4 was as fast as any on Zen 4 within noise.)
#ifndef XNOR_MR
#define XNOR_MR 4
#define XNOR_NR 4
#endif
constexpr int MR = XNOR_MR, NR = XNOR_NR;

template <int mr, int nr>
struct Tile {
  static void run(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1, int32_t* c, size_t ldc) {
    __m512i acc[mr][nr];
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) acc[i][j] = _mm512_setzero_si512();
    for (size_t k = k0; k < k1; k += 8) {
      __m512i bv[nr];
      for (int j = 0; j < nr; j++) bv[j] = _mm512_loadu_si512(b + j * stride + k);
      for (int i = 0; i < mr; i++) {
        const __m512i av = _mm512_loadu_si512(a + i * stride + k);
        for (int j = 0; j < nr; j++)
          acc[i][j] = _mm512_add_epi64(acc[i][j], _mm512_popcnt_epi64(_mm512_xor_si512(av, bv[j])));
      }
    }
    for (int i = 0; i < mr; i++) {
      if constexpr (nr == 4) {
        // Four horizontal sums at once: short rows (the first layer's k = 784) make this epilogue
        // a large share of the work, and one-by-one reductions cost ~8 instructions each.
        const __m512i ab =
            _mm512_add_epi64(_mm512_unpacklo_epi64(acc[i][0], acc[i][1]), _mm512_unpackhi_epi64(acc[i][0], acc[i][1]));
        const __m512i cd =
            _mm512_add_epi64(_mm512_unpacklo_epi64(acc[i][2], acc[i][3]), _mm512_unpackhi_epi64(acc[i][2], acc[i][3]));
        // ab = [a0 b0 | a1 b1 | a2 b2 | a3 b3] per 128-bit lane (pairs summed); same for cd.
        const __m512i x = _mm512_add_epi64(_mm512_shuffle_i64x2(ab, cd, 0x88), _mm512_shuffle_i64x2(ab, cd, 0xdd));
        // x = [a b | a b | c d | c d]: two partial sums of each.
        alignas(64) int64_t lanes[8];
        _mm512_store_si512(lanes, x);
        c[i * ldc + 0] += static_cast<int32_t>(lanes[0] + lanes[2]);
        c[i * ldc + 1] += static_cast<int32_t>(lanes[1] + lanes[3]);
        c[i * ldc + 2] += static_cast<int32_t>(lanes[4] + lanes[6]);
        c[i * ldc + 3] += static_cast<int32_t>(lanes[5] + lanes[7]);
      } else {
        for (int j = 0; j < nr; j++) c[i * ldc + j] += static_cast<int32_t>(_mm512_reduce_add_epi64(acc[i][j]));
      }
    }
  }
};
}  // namespace

#include "gemm_driver.h"

void xnor::gemm_avx512(const GemmArgs& g) { blocked_gemm(g); }

// The ceiling for any XNOR kernel here: 16 independent XOR → VPOPCNTQ → VPADDQ chains on values
// in registers, as in a 4 × 4 micro-kernel without its loads. The empty asm statements make the
// inputs opaque so the compiler cannot hoist the loop-invariant XOR and popcount.
double xnor::roofline_avx512(double seconds) {
  __m512i x0 = _mm512_set1_epi64(0x0123456789abcdefLL), x1 = _mm512_set1_epi64(0x1111111111111111LL);
  __m512i x2 = _mm512_set1_epi64(0x7777777777777777LL), x3 = _mm512_set1_epi64(0x5555555555555555LL);
  __m512i y0 = _mm512_set1_epi64(0x3333333333333333LL), y1 = _mm512_set1_epi64(0x0f0f0f0f0f0f0f0fLL);
  __m512i y2 = _mm512_set1_epi64(0x00ff00ff00ff00ffLL), y3 = _mm512_set1_epi64(0x2222222222222222LL);
  __m512i acc[16];
  for (auto& v : acc) v = _mm512_setzero_si512();
  auto now = [] {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  };
  const double start = now();
  uint64_t iterations = 0;
  double elapsed = 0;
  constexpr int kInner = 1 << 14;
  do {
    for (int r = 0; r < kInner; r++) {
      asm volatile("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(y0), "+v"(y1), "+v"(y2), "+v"(y3));
      const __m512i xv[4] = {x0, x1, x2, x3};
      const __m512i yv[4] = {y0, y1, y2, y3};
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          acc[i * 4 + j] = _mm512_add_epi64(acc[i * 4 + j], _mm512_popcnt_epi64(_mm512_xor_si512(xv[i], yv[j])));
    }
    iterations += kInner;
    elapsed = now() - start;
  } while (elapsed < seconds);
  uint64_t sink = 0;
  for (auto& v : acc) sink += static_cast<uint64_t>(_mm512_reduce_add_epi64(v));
  asm volatile("" : : "r"(sink));
  return static_cast<double>(iterations) * 16.0 * 512.0 / elapsed;
}
