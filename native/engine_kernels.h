// The inference engine's micro-kernels (native/engine.cc): one portable version each, and one for
// AVX-512 (engine_avx512.cc, picked at run time).
//
// Binary products in the engine use an output-interleaved ("vertical") weight layout: neurons in
// groups of 8, word q of the 8 neurons of a group side by side in one 512-bit vector. One input
// word broadcast against it gives 8 neurons' popcounts in 8 lanes, so no horizontal sum is ever
// needed and rows need no padding to whole vectors: short rows (the first layer's 784 bits, a 3×3
// conv's 18 words) run as fast as long ones.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bnn {
namespace engine {

struct BinaryTile {
  const uint64_t* a;  // input rows: `rows` of them (8 consecutive bit-plane rows per input when `planes`)
  size_t lda;         // words between rows of a
  const uint64_t* w;  // `groups` groups of 8 neurons, `words` × 8 words each (word q of neuron 8g + l
                      // at (g·words + q)·8 + l)
  size_t words;       // words per row that hold bits
  size_t K;           // ±1 values per dot product
  size_t rows;        // outputs rows computed
  size_t groups;      // groups of 8 neurons computed
  bool planes;        // c = Σ_p 2^p · (plane p · w) over 8 bit-plane rows per output row (firstLayer.ts)
  int32_t* c;         // c[i·ldc + 8g + l] = a_i · w_{8g+l} (±1 dot product)
  size_t ldc;
};

// The first conv on pixels as float arithmetic, exact while |sums| < 2^24:
//   c[i·ldc + f] = Σ_k x[i·ldx + k]·w[k·ldw + f].
struct FloatTile {
  const float* x;
  size_t ldx;
  size_t K;
  const float* w;  // K × ldw, ldw a multiple of 16 (zero columns past the filters)
  size_t ldw;
  size_t rows;
  int32_t* c;  // rows × ldw of exact integers
  size_t ldc;
};

// The first dense layer's input rows from k uint8 pixels: 8 bit-plane rows (plane q at dst + q·stride)
// when `planes`, else one row of signs (p ≥ 128 ↔ +1). Words past the k bits are left as they are.
using PackPixelsFn = void (*)(const uint8_t* pixels, size_t k, bool planes, uint64_t* dst, size_t stride);

// BatchNorm + sign folded (lib/engine/packedModel.ts): bit j of out (⌈count/64⌉ words) is
// (negate_j ? −s_j : s_j) ≥ t_j, negate_j 0 or −1.
using ThresholdFn = void (*)(const int32_t* s, const int32_t* t, const int32_t* negate, size_t count, uint64_t* out);

using BinaryTileFn = void (*)(const BinaryTile&);
using FloatTileFn = void (*)(const FloatTile&);

void binary_tile_portable(const BinaryTile&);
void float_tile_portable(const FloatTile&);
void pack_pixels_portable(const uint8_t* pixels, size_t k, bool planes, uint64_t* dst, size_t stride);
void threshold_portable(const int32_t* s, const int32_t* t, const int32_t* negate, size_t count, uint64_t* out);
#if defined(__x86_64__) || defined(_M_X64)
// These need AVX-512 F, BW and VPOPCNTDQ.
void binary_tile_avx512(const BinaryTile&);
void float_tile_avx512(const FloatTile&);
void pack_pixels_avx512(const uint8_t* pixels, size_t k, bool planes, uint64_t* dst, size_t stride);
void threshold_avx512(const int32_t* s, const int32_t* t, const int32_t* negate, size_t count, uint64_t* out);
#endif

}  // namespace engine
}  // namespace bnn
