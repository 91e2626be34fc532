// The cache-blocked loop nest of the float GEMM (BLIS design), shared by every instruction set.
// Include it once per translation unit after defining `struct Micro` with
//   static constexpr size_t MR, NR, MC, KC, NC;
//   template <size_t rows> static void tile(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool add);
// and optionally a register transpose `Transpose` (see pack_b_trans),
// where tile computes a rows × NR block c (row stride ldc) = (add ? c : 0) + a·b from packed
// panels: a holds kc groups of MR floats (one per row), b kc groups of NR floats (one per column).
// micro_kernel(name) then gives the translation unit's Kernel (sgemm_kernels.h).
//
// Roles: the vector dimension is N (NR columns = whole vectors), the broadcast dimension M. An
// MR × KC panel of A stays in L1 while it meets every NR-column panel of a KC × NC block of B
// (in L2); an MC × KC block of A is packed once per K step and reused over all of N.
#pragma once
#include <cstring>
#include <type_traits>

namespace {

inline size_t min_size(size_t x, size_t y) { return x < y ? x : y; }  // not std::min (ODR, see gemm_driver.h)

// Rows [m0, m0 + mc) × columns [k0, k0 + kc) of op(A) → MR-row panels, zero-padded to whole panels.
void pack_a(const bnn::sgemm_impl::Args& g, size_t m0, size_t mc, size_t k0, size_t kc, float* dst) {
  constexpr size_t MR = Micro::MR;
  for (size_t p = 0; p < mc; p += MR, dst += MR * kc) {
    const size_t rows = min_size(MR, mc - p);
    if (g.transA) {
      // op(A) row i is column m0 + p + i of A: each k is a contiguous run of `rows` floats.
      for (size_t k = 0; k < kc; k++) {
        const float* src = g.A + (k0 + k) * g.lda + m0 + p;
        float* d = dst + k * MR;
        for (size_t i = 0; i < rows; i++) d[i] = src[i];
        for (size_t i = rows; i < MR; i++) d[i] = 0.f;
      }
    } else {
      for (size_t i = 0; i < rows; i++) {
        const float* src = g.A + (m0 + p + i) * g.lda + k0;
        for (size_t k = 0; k < kc; k++) dst[k * MR + i] = src[k];
      }
      for (size_t i = rows; i < MR; i++)
        for (size_t k = 0; k < kc; k++) dst[k * MR + i] = 0.f;
    }
  }
}

// A transposed B is packed W × W floats at a time through registers where Micro names a
// `Transpose` { W; V (a vector of W floats); load(const float*); store(float*, V); run(V[W]): rows to
// columns }, a float at a time (W = 1) where it does not. Copied one column at a time instead, C = A·Bᵀ
// was 1.4–1.8× slower than C = A·B at batch 100 (a training step's input gradients, B the weights).
struct ScalarTranspose {
  static constexpr size_t W = 1;
  using V = float;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static void run(V*) {}
};
template <class M, class = void>
struct TransposeOf {
  using type = ScalarTranspose;
};
template <class M>
struct TransposeOf<M, std::void_t<typename M::Transpose>> {
  using type = typename M::Transpose;
};

// Rows [k0, k0 + kc) × columns [n0, n0 + cols) of op(B) with transB (B is N × K): a transpose.
void pack_b_trans(const bnn::sgemm_impl::Args& g, size_t k0, size_t kc, size_t n0, size_t cols, float* dst) {
  using T = typename TransposeOf<Micro>::type;
  constexpr size_t W = T::W, NR = Micro::NR;
  const auto src = [&](size_t j, size_t k) { return g.B + (n0 + j) * g.ldb + k0 + k; };
  size_t j = 0;
  for (; j + W <= cols; j += W) {
    size_t k = 0;
    for (; k + W <= kc; k += W) {
      typename T::V r[W];
      for (size_t i = 0; i < W; i++) r[i] = T::load(src(j + i, k));
      T::run(r);
      for (size_t i = 0; i < W; i++) T::store(dst + (k + i) * NR + j, r[i]);
    }
    for (; k < kc; k++)
      for (size_t i = 0; i < W; i++) dst[k * NR + j + i] = *src(j + i, k);
  }
  for (; j < cols; j++)
    for (size_t k = 0; k < kc; k++) dst[k * NR + j] = *src(j, k);
  for (; j < NR; j++)
    for (size_t k = 0; k < kc; k++) dst[k * NR + j] = 0.f;
}

// Rows [k0, k0 + kc) × columns [n0, n0 + nc) of op(B) → NR-column panels, zero-padded.
void pack_b(const bnn::sgemm_impl::Args& g, size_t k0, size_t kc, size_t n0, size_t nc, float* dst) {
  constexpr size_t NR = Micro::NR;
  for (size_t q = 0; q < nc; q += NR, dst += NR * kc) {
    const size_t cols = min_size(NR, nc - q);
    if (g.transB) {
      pack_b_trans(g, k0, kc, n0 + q, cols, dst);
    } else if (cols == NR) {
      for (size_t k = 0; k < kc; k++) std::memcpy(dst + k * NR, g.B + (k0 + k) * g.ldb + n0 + q, NR * sizeof(float));
    } else {
      for (size_t k = 0; k < kc; k++) {
        const float* src = g.B + (k0 + k) * g.ldb + n0 + q;
        float* d = dst + k * NR;
        for (size_t j = 0; j < cols; j++) d[j] = src[j];
        for (size_t j = cols; j < NR; j++) d[j] = 0.f;
      }
    }
  }
}

// The last, partial row panel (e.g. M = 100 with MR = 14 leaves 2 rows) runs a kernel of its own
// height instead of wasting the padded rows' FMAs.
template <size_t R>
void tile_rows(size_t rows, size_t kc, const float* a, const float* b, float* c, size_t ldc, bool add) {
  if constexpr (R > 1)
    if (rows < R) return tile_rows<R - 1>(rows, kc, a, b, c, ldc, add);
  Micro::template tile<R>(kc, a, b, c, ldc, add);
}

void blocked_sgemm(const bnn::sgemm_impl::Args& g, float* pa, float* pb) {
  constexpr size_t MR = Micro::MR, NR = Micro::NR;
  alignas(64) float edge[MR * NR];
  for (size_t m0 = 0; m0 < g.M; m0 += Micro::MC) {
    const size_t mc = min_size(Micro::MC, g.M - m0);
    for (size_t k0 = 0; k0 < g.K; k0 += Micro::KC) {
      const size_t kc = min_size(Micro::KC, g.K - k0);
      const bool add = g.accumulate || k0 > 0;
      pack_a(g, m0, mc, k0, kc, pa);
      for (size_t n0 = 0; n0 < g.N; n0 += Micro::NC) {
        const size_t nc = min_size(Micro::NC, g.N - n0);
        pack_b(g, k0, kc, n0, nc, pb);
        for (size_t i = 0; i < mc; i += MR) {
          const float* a = pa + i * kc;
          float* c = g.C + (m0 + i) * g.ldc + n0;
          const size_t rows = min_size(MR, mc - i);
          for (size_t j = 0; j < nc; j += NR) {
            const float* b = pb + j * kc;
            const size_t cols = min_size(NR, nc - j);
            if (cols == NR) {
              if (rows == MR)
                Micro::template tile<MR>(kc, a, b, c + j, g.ldc, add);
              else
                tile_rows<MR>(rows, kc, a, b, c + j, g.ldc, add);
              continue;
            }
            // Right edge: the tile into a buffer (padding columns are zero), then the valid part.
            tile_rows<MR>(rows, kc, a, b, edge, NR, false);
            for (size_t r = 0; r < rows; r++) {
              float* dst = c + r * g.ldc + j;
              const float* src = edge + r * NR;
              if (add)
                for (size_t s = 0; s < cols; s++) dst[s] += src[s];
              else
                for (size_t s = 0; s < cols; s++) dst[s] = src[s];
            }
          }
        }
      }
    }
  }
}

// This translation unit's micro-kernel, with the packing workspace its blocks need.
bnn::sgemm_impl::Kernel micro_kernel(const char* name) {
  return {name, Micro::MC * Micro::KC, Micro::KC * Micro::NC, Micro::MR, Micro::NR, blocked_sgemm};
}

}  // namespace
