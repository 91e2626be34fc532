// arm64 NEON: VCNT counts bits per byte, pairwise widening adds sum them into 64-bit lanes.
#include <arm_neon.h>
#include <utility>
#include "xnor_common.h"

namespace {
constexpr int MR = 4, NR = 2;

template <int mr, int nr>
struct Tile {
  static void run(const uint64_t* a, const uint64_t* b, size_t stride, size_t k0, size_t k1, int32_t* c, size_t ldc) {
    uint64x2_t acc[mr][nr];
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) acc[i][j] = vdupq_n_u64(0);
    for (size_t k = k0; k < k1; k += 2) {
      uint8x16_t bv[nr];
      for (int j = 0; j < nr; j++) bv[j] = vreinterpretq_u8_u64(vld1q_u64(b + j * stride + k));
      for (int i = 0; i < mr; i++) {
        const uint8x16_t av = vreinterpretq_u8_u64(vld1q_u64(a + i * stride + k));
        for (int j = 0; j < nr; j++)
          acc[i][j] = vpadalq_u32(acc[i][j], vpaddlq_u16(vpaddlq_u8(vcntq_u8(veorq_u8(av, bv[j])))));
      }
    }
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[i * ldc + j] += static_cast<int32_t>(vaddvq_u64(acc[i][j]));
  }
};
}  // namespace

#include "gemm_driver.h"

void xnor::gemm_neon(const GemmArgs& g) { blocked_gemm(g); }
