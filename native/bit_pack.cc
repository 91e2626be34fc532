#include "bit_pack.h"

#include <cstring>
#include <immintrin.h>

namespace bnn {
namespace {

// 64×64 bit transpose (Hacker's Delight §7-3, recursive block swaps): bit j of a[i] ↔ bit i of a[j].
void transpose64(uint64_t a[64]) {
  uint64_t m = 0x00000000FFFFFFFFULL;
  for (int j = 32; j != 0; j >>= 1, m ^= (m << j)) {
    for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
      const uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
      a[k] ^= t << j;
      a[k | j] ^= t;
    }
  }
}

// Bits of src[0..count) (+1 → 1), count ≤ 64; `bad` collects values that are not ±1.
inline uint64_t mask_scalar(const float* src, size_t count, bool& bad) {
  uint64_t bits = 0;
  for (size_t i = 0; i < count; i++) {
    const float v = src[i];
    bad |= !(v == 1.f || v == -1.f);
    bits |= static_cast<uint64_t>(v > 0) << i;
  }
  return bits;
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512dq"))) inline uint64_t mask64_avx512(const float* src, bool& bad) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  uint64_t bits = 0;
  __mmask16 ok = 0xffff;
  for (int q = 0; q < 4; q++) {
    const __m512 v = _mm512_loadu_ps(src + 16 * q);
    const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), abs_mask));
    ok &= _mm512_cmp_ps_mask(a, one, _CMP_EQ_OQ);
    bits |= static_cast<uint64_t>(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ)) << (16 * q);
  }
  bad |= ok != 0xffff;
  return bits;
}
const bool has_avx512 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}();
#endif

inline uint64_t mask_bits(const float* src, size_t count, bool& bad) {
#if defined(__x86_64__)
  if (count == 64 && has_avx512) return mask64_avx512(src, bad);
#endif
  return mask_scalar(src, count, bad);
}

}  // namespace

bool pack_rows(const float* src, size_t ld, size_t K, size_t r0, size_t r1, uint64_t* dst, size_t stride) {
  bool bad = false;
  for (size_t r = r0; r < r1 && !bad; r++) {
    uint64_t* row = dst + r * stride;
    std::memset(row, 0, stride * sizeof(uint64_t));
    for (size_t k = 0; k < K; k += 64) row[k / 64] = mask_bits(src + r * ld + k, K - k < 64 ? K - k : 64, bad);
  }
  return !bad;
}

bool pack_cols(const float* src, size_t ld, size_t K, size_t n0, size_t n1, uint64_t* dst, size_t stride) {
  bool bad = false;
  for (size_t n = n0; n < n1; n++) std::memset(dst + n * stride, 0, stride * sizeof(uint64_t));
  alignas(64) uint64_t block[64];
  for (size_t nb = n0; nb < n1 && !bad; nb += 64) {
    const size_t width = n1 - nb < 64 ? n1 - nb : 64;
    for (size_t kb = 0; kb < K; kb += 64) {
      const size_t depth = K - kb < 64 ? K - kb : 64;
      // block[i]: bits over the columns of row kb + i; after the transpose block[j]: bits over k of column nb + j.
      for (size_t i = 0; i < 64; i++) block[i] = i < depth ? mask_bits(src + (kb + i) * ld + nb, width, bad) : 0;
      transpose64(block);
      for (size_t j = 0; j < width; j++) dst[(nb + j) * stride + kb / 64] = block[j];
    }
  }
  return !bad;
}

}  // namespace bnn
