// AVX-512 micro-kernels of the inference engine (engine_kernels.h), compiled with -mavx512f
// -mavx512bw -mavx512vpopcntdq and used only where the CPU has all three.
#include <immintrin.h>

#include "engine_kernels.h"

namespace bnn {
namespace engine {
namespace {

// acc[i][g] (8 lanes of int64) += popcount(a_i XOR w_g) over all words: MR rows × NG groups of 8.
template <int MR, int NG>
inline void popcounts(const uint64_t* a, size_t lda, const uint64_t* w, size_t words, __m512i (&acc)[MR][NG]) {
  for (int i = 0; i < MR; i++)
    for (int g = 0; g < NG; g++) acc[i][g] = _mm512_setzero_si512();
  for (size_t q = 0; q < words; q++) {
    __m512i wv[NG];
    for (int g = 0; g < NG; g++) wv[g] = _mm512_loadu_si512(w + (g * words + q) * 8);
    for (int i = 0; i < MR; i++) {
      const __m512i av = _mm512_set1_epi64(static_cast<long long>(a[i * lda + q]));
      for (int g = 0; g < NG; g++)
        acc[i][g] = _mm512_add_epi64(acc[i][g], _mm512_popcnt_epi64(_mm512_xor_si512(av, wv[g])));
    }
  }
}

// Rows: c = K − 2·popcount.
template <int MR, int NG>
void rows_tile(const uint64_t* a, size_t lda, const uint64_t* w, size_t words, size_t K, int32_t* c, size_t ldc) {
  __m512i acc[MR][NG];
  popcounts<MR, NG>(a, lda, w, words, acc);
  const __m512i k = _mm512_set1_epi64(static_cast<long long>(K));
  for (int i = 0; i < MR; i++)
    for (int g = 0; g < NG; g++)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + 8 * g),
                          _mm512_cvtepi64_epi32(_mm512_sub_epi64(k, _mm512_slli_epi64(acc[i][g], 1))));
}

// One input's 8 bit-plane rows: c = Σ_p 2^p (K − 2·popcount_p) = 255·K − 2·Σ_p 2^p·popcount_p.
template <int NG>
void planes_tile(const uint64_t* a, size_t lda, const uint64_t* w, size_t words, size_t K, int32_t* c) {
  __m512i acc[8][NG];
  popcounts<8, NG>(a, lda, w, words, acc);
  const __m512i k = _mm512_set1_epi64(static_cast<long long>(255 * K));
  for (int g = 0; g < NG; g++) {
    __m512i s = acc[7][g];
    for (int p = 6; p >= 0; p--) s = _mm512_add_epi64(_mm512_slli_epi64(s, 1), acc[p][g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8 * g),
                        _mm512_cvtepi64_epi32(_mm512_sub_epi64(k, _mm512_slli_epi64(s, 1))));
  }
}

constexpr int kRows = 4, kGroups = 4;  // 16 accumulators + 4 weight vectors + 1 broadcast of 32 registers

template <int MR>
void rows_any_groups(const BinaryTile& t, size_t i, size_t g, size_t ng) {
  const uint64_t* a = t.a + i * t.lda;
  const uint64_t* w = t.w + g * t.words * 8;
  int32_t* c = t.c + i * t.ldc + 8 * g;
  switch (ng) {
    case 4: return rows_tile<MR, 4>(a, t.lda, w, t.words, t.K, c, t.ldc);
    case 3: return rows_tile<MR, 3>(a, t.lda, w, t.words, t.K, c, t.ldc);
    case 2: return rows_tile<MR, 2>(a, t.lda, w, t.words, t.K, c, t.ldc);
    default: return rows_tile<MR, 1>(a, t.lda, w, t.words, t.K, c, t.ldc);
  }
}

}  // namespace

void binary_tile_avx512(const BinaryTile& t) {
  if (t.planes) {
    for (size_t g = 0; g < t.groups; g += 2)
      for (size_t i = 0; i < t.rows; i++) {
        const uint64_t* a = t.a + i * 8 * t.lda;
        const uint64_t* w = t.w + g * t.words * 8;
        if (t.groups - g >= 2) planes_tile<2>(a, t.lda, w, t.words, t.K, t.c + i * t.ldc + 8 * g);
        else planes_tile<1>(a, t.lda, w, t.words, t.K, t.c + i * t.ldc + 8 * g);
      }
    return;
  }
  // Groups outer: a block of kGroups·8 neurons' weights stays in L1 while every row meets it.
  for (size_t g = 0; g < t.groups; g += kGroups) {
    const size_t ng = t.groups - g < kGroups ? t.groups - g : kGroups;
    size_t i = 0;
    for (; i + kRows <= t.rows; i += kRows) rows_any_groups<kRows>(t, i, g, ng);
    switch (t.rows - i) {
      case 3: rows_any_groups<3>(t, i, g, ng); break;
      case 2: rows_any_groups<2>(t, i, g, ng); break;
      case 1: rows_any_groups<1>(t, i, g, ng); break;
      default: break;
    }
  }
}

namespace {

// MR rows × NV vectors of 16 filters.
template <int MR, int NV>
void float_block(const FloatTile& t, size_t i, size_t f) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
  for (size_t k = 0; k < t.K; k++) {
    __m512 wv[NV];
    for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(t.w + k * t.ldw + f + 16 * v);
    for (int r = 0; r < MR; r++) {
      const __m512 x = _mm512_set1_ps(t.x[(i + r) * t.ldx + k]);
      for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(x, wv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++)
      _mm512_storeu_si512(t.c + (i + r) * t.ldc + f + 16 * v, _mm512_cvtps_epi32(acc[r][v]));
}

template <int MR>
void float_rows(const FloatTile& t, size_t i) {
  size_t f = 0;
  for (; f + 64 <= t.ldw; f += 64) float_block<MR, 4>(t, i, f);
  switch ((t.ldw - f) / 16) {
    case 3: float_block<MR, 3>(t, i, f); break;
    case 2: float_block<MR, 2>(t, i, f); break;
    case 1: float_block<MR, 1>(t, i, f); break;
    default: break;
  }
}

}  // namespace

void float_tile_avx512(const FloatTile& t) {
  size_t i = 0;
  for (; i + 4 <= t.rows; i += 4) float_rows<4>(t, i);
  for (; i < t.rows; i++) float_rows<1>(t, i);
}

void pack_pixels_avx512(const uint8_t* pixels, size_t k, bool planes, uint64_t* dst, size_t stride) {
  for (size_t i = 0; i < k; i += 64) {
    const size_t n = k - i < 64 ? k - i : 64;
    const __m512i v = _mm512_maskz_loadu_epi8(n == 64 ? ~0ULL : (1ULL << n) - 1, pixels + i);
    if (!planes) {
      dst[i / 64] = _mm512_movepi8_mask(v);  // the top bit: p ≥ 128
      continue;
    }
    for (int q = 0; q < 8; q++) dst[q * stride + i / 64] = _mm512_test_epi8_mask(v, _mm512_set1_epi8(char(1 << q)));
  }
}

void threshold_avx512(const int32_t* s, const int32_t* t, const int32_t* negate, size_t count, uint64_t* out) {
  for (size_t j = 0; j < count; j += 64) {
    uint64_t word = 0;
    for (size_t v = 0; v < 64 && j + v < count; v += 16) {
      const size_t n = count - j - v < 16 ? count - j - v : 16;
      const __mmask16 m = n == 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
      const __m512i x = _mm512_maskz_loadu_epi32(m, s + j + v), neg = _mm512_maskz_loadu_epi32(m, negate + j + v);
      const __m512i signed_x = _mm512_sub_epi32(_mm512_xor_si512(x, neg), neg);
      word |= uint64_t(_mm512_mask_cmpge_epi32_mask(m, signed_x, _mm512_maskz_loadu_epi32(m, t + j + v))) << v;
    }
    out[j / 64] = word;
  }
}

}  // namespace engine
}  // namespace bnn
