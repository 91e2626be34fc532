// The cache-blocked loop nest around a register-blocked micro-kernel, shared by every instruction
// set. Include it once per translation unit after defining a `Tile<MR, NR>` template with
//   static void run(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1,
//                   int32_t* c, size_t ldc)
// that adds popcount(a_i XOR b_j) over words [k0, k1) to c[i·ldc + j], and constants MR, NR.
//
// Blocking: K in chunks of KC words so that an MR-row panel of A (MR·KC·8 bytes) stays in L1 while
// it meets every NR-row panel of a B block of NC rows (NC·KC·8 bytes, sized for L2).
#pragma once
#include <cstring>
#include <utility>

namespace {

// Not std::min: a std template instantiated in a translation unit compiled for AVX-512 could be
// the copy the linker keeps for every caller (the ODR hazard of per-file -m flags).
inline size_t min_size(size_t x, size_t y) { return x < y ? x : y; }

// Overridable (-DXNOR_KC=… -DXNOR_NC=…) for blocking experiments.
#ifndef XNOR_KC
#define XNOR_KC 256
#define XNOR_NC 128
#endif
constexpr size_t KC = XNOR_KC;  // words of each row per pass
constexpr size_t NC = XNOR_NC;  // B rows per L2 block

template <int mr, int nr>
void run_tile(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1, int32_t* c, size_t ldc) {
  Tile<mr, nr>::run(a, b, stride, k0, k1, c, ldc);
}

using TileFn = void (*)(const uint64_t*, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);

template <int mr, int... nrs>
constexpr void fill_row(TileFn* row, std::integer_sequence<int, nrs...>) {
  ((row[nrs] = &run_tile<mr, nrs + 1>), ...);
}

template <int... mrs>
struct TileTable {
  TileFn fns[MR][NR];
  constexpr TileTable() : fns{} {
    ((fill_row<mrs + 1>(fns[mrs], std::make_integer_sequence<int, NR>{})), ...);
  }
};

template <int... mrs>
constexpr TileTable<mrs...> make_table(std::integer_sequence<int, mrs...>) { return TileTable<mrs...>(); }

// tiles[mr−1][nr−1] handles an mr × nr block (edges use the smaller ones).
const auto tiles = make_table(std::make_integer_sequence<int, MR>{});

void blocked_gemm(const xnor::GemmArgs& g) {
  for (size_t i = g.m0; i < g.m1; i++) std::memset(g.c + i * g.ldc + g.n0, 0, (g.n1 - g.n0) * sizeof(int32_t));
  for (size_t k0 = 0; k0 < g.stride; k0 += KC) {
    const size_t k1 = min_size(g.stride, k0 + KC);
    for (size_t jb = g.n0; jb < g.n1; jb += NC) {
      const size_t jb1 = min_size(g.n1, jb + NC);
      for (size_t i = g.m0; i < g.m1; i += MR) {
        const size_t mr = min_size(MR, g.m1 - i);
        for (size_t j = jb; j < jb1; j += NR) {
          const size_t nr = min_size(NR, jb1 - j);
          tiles.fns[mr - 1][nr - 1](g.a + i * g.stride, g.b + j * g.stride, g.stride, k0, k1, g.c + i * g.ldc + j,
                                    g.ldc);
        }
      }
    }
  }
  // popcount(a XOR b) → the ±1 dot product.
  const int32_t K = static_cast<int32_t>(g.K);
  for (size_t i = g.m0; i < g.m1; i++) {
    int32_t* row = g.c + i * g.ldc;
    for (size_t j = g.n0; j < g.n1; j++) row[j] = K - 2 * row[j];
  }
}

}  // namespace
