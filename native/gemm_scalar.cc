// Portable fallback: any CPU, any compiler (std::bitset-free popcount so it also builds where
// the POPCNT instruction may not be assumed).
#include <utility>
#include "xnor_common.h"

namespace {
constexpr int MR = 2, NR = 2;

inline uint32_t popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<uint32_t>((x * 0x0101010101010101ULL) >> 56);
}

template <int mr, int nr>
struct Tile {
  static void run(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1, int32_t* c, size_t ldc) {
    uint32_t acc[mr][nr] = {};
    for (size_t k = k0; k < k1; k++)
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] += popcount64(a[i * stride + k] ^ b[j * stride + k]);
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[i * ldc + j] += static_cast<int32_t>(acc[i][j]);
  }
};
}  // namespace

#include "gemm_driver.h"

void xnor::gemm_scalar(const GemmArgs& g) { blocked_gemm(g); }
