// AVX2 (compiled with -mavx2): no vector popcount, so the nibble lookup table (VPSHUFB) counts
// bits per byte and VPSADBW sums the bytes into 64-bit lanes.
#include <immintrin.h>
#include <utility>
#include "xnor_common.h"

namespace {
constexpr int MR = 3, NR = 2;

inline __m256i popcount_bytes(__m256i x) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low));
  return _mm256_add_epi8(lo, hi);
}

template <int mr, int nr>
struct Tile {
  static void run(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1, int32_t* c, size_t ldc) {
    __m256i acc[mr][nr];
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_si256();
    const __m256i zero = _mm256_setzero_si256();
    for (size_t k = k0; k < k1; k += 4) {
      __m256i bv[nr];
      for (int j = 0; j < nr; j++) bv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j * stride + k));
      for (int i = 0; i < mr; i++) {
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i * stride + k));
        for (int j = 0; j < nr; j++)
          acc[i][j] = _mm256_add_epi64(acc[i][j], _mm256_sad_epu8(popcount_bytes(_mm256_xor_si256(av, bv[j])), zero));
      }
    }
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) {
        alignas(32) uint64_t lanes[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[i][j]);
        c[i * ldc + j] += static_cast<int32_t>(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
      }
  }
};
}  // namespace

#include "gemm_driver.h"

void xnor::gemm_avx2(const GemmArgs& g) { blocked_gemm(g); }
