// x86-64 with the POPCNT instruction (compiled with -mpopcnt): 64 multiplies per instruction.
#include <utility>
#include "xnor_common.h"

namespace {
constexpr int MR = 4, NR = 2;

template <int mr, int nr>
struct Tile {
  static void run(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1, int32_t* c, size_t ldc) {
    uint64_t acc[mr][nr] = {};
    for (size_t k = k0; k < k1; k++)
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
          acc[i][j] += static_cast<uint64_t>(__builtin_popcountll(a[i * stride + k] ^ b[j * stride + k]));
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[i * ldc + j] += static_cast<int32_t>(acc[i][j]);
  }
};
}  // namespace

#include "gemm_driver.h"

void xnor::gemm_popcnt(const GemmArgs& g) { blocked_gemm(g); }
