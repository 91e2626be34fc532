// The binary inference engine's whole network in native code: `new BinaryNetwork(spec)` takes a
// packed model (lib/engine/packedModel.ts) once, `run(pixels, n, scores, threads, profile?)` runs
// it on a batch with no JavaScript between layers. lib/engine/engine.ts is the readable reference
// of the same arithmetic (and runs the wasm and ts tiers); test/engine-native.test.ts checks that
// both give identical scores.
//
// Layers (each a tile loop on the shared pool, parallel.h):
//   conv on pixels   direct integer conv: Σ (2p − 255)·w over the taps inside the image, i.e. 255 ×
//                    the float conv of x = p/127.5 − 1 with zero padding (the bit-plane product of
//                    firstLayer.ts, in one pass: a 3-channel input is too narrow for bit planes);
//   conv on bits     packed im2col of a tile of output rows, XNOR GEMM, padding correction;
//   dense on pixels  8 bit planes per image (firstLayer.ts), XNOR GEMM, Σ 2^p combine;
//   dense on bits    XNOR GEMM;
// then 2×2 max pooling of the integer sums (convs), and BatchNorm + sign folded into one integer
// comparison per neuron and packed to bits, or the last layer's affine map to class scores.
//
// Activations stay packed between layers, one row per image. A conv layer's output pixel takes
// ⌈c/64⌉ whole words (the bits past c are 0), so an im2col row is a copy of whole words for any c,
// and the image row is already what a following dense layer reads: its weights are laid out with
// the same gaps at construction (zero bits in both operands add nothing to popcount(a XOR b)).
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine_kernels.h"
#include "napi_args.h"
#include "parallel.h"
#include "register.h"
#include "simd_clones.h"


namespace bnn {
namespace {

inline size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }
inline size_t words_for(size_t bits) { return (bits + 63) / 64; }

// 64-byte aligned, uninitialised storage that is reused from run to run (fresh pages cost faults).
template <typename T>
class Buffer {
 public:
  T* data() { return ptr_.get(); }
  const T* data() const { return ptr_.get(); }
  size_t size() const { return size_; }
  void reserve(size_t n) {
    if (n <= size_) return;
    void* p = nullptr;
    if (posix_memalign(&p, 64, std::max<size_t>(1, n) * sizeof(T)) != 0) throw std::bad_alloc();
    ptr_.reset(static_cast<T*>(p));
    size_ = n;
  }
  void zeroed(size_t n) {
    reserve(n);
    std::memset(data(), 0, n * sizeof(T));
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> ptr_;
  size_t size_ = 0;
};

enum class Input { Pixels, PixelSigns, Bits };

struct Layer {
  std::string name;
  bool conv = false;
  Input input = Input::Bits;
  // Conv geometry: input h × w × c, k × k taps, `pad` on each side, conv output ch × cw, after
  // pooling oh × ow.
  size_t h = 0, w = 0, c = 0, ks = 0, pad = 0, pool = 1, ch = 0, cw = 0, oh = 0, ow = 0;
  size_t units = 0;
  size_t ldc = 0;      // sums per row in the tiles: units rounded up to 16
  size_t K = 0;        // ±1 values per dot product
  size_t words = 0;    // words per input row of the product (im2col row, activation row, bit plane)
  size_t pw_in = 0;    // words per input pixel (conv on bits)
  size_t in_row = 0;   // words per image of the input activations (bits inputs)
  size_t out_row = 0;  // words per image of the output activations
  size_t pw_out = 0;   // words per output pixel (convs) or per image (dense)
  Buffer<uint64_t> weights;      // vertical layout (engine_kernels.h), gapped like the input
  std::vector<float> wfloat;     // conv on pixels: (taps·c) × ldc of ±1 (0 past the filters)
  std::vector<int32_t> wsign;    // the same as 0 (+1) / −1 (−1) masks, where float would not be exact
  std::vector<int32_t> corr;     // conv on bits: per border case × units, Σ over padded taps of Σ_ch w
  std::vector<uint32_t> case_y, case_x;  // border case of each conv output row / column
  size_t cases_x = 0;
  bool padded = false;  // some output position has a tap outside the input (even 'same' kernels pad only after)
  std::vector<int32_t> thresholds, negate;  // sign: bit = (negate ? −S : S) ≥ threshold
  std::vector<double> scale, shift;         // scores: scale·S + shift
  bool scores = false;
  // Work per image in binary multiply-accumulates, for the thread choice: one 512-bit popcount
  // does 512 of them, one float FMA 16, so a MAC of the float first conv weighs 32 binary ones.
  double macs_per_image = 0;
};

// ---- element-wise pieces and the portable micro-kernels --------------------------------------

BNN_SIMD_CLONES void max4(const int32_t* a, const int32_t* b, const int32_t* c, const int32_t* d, int32_t* out,
                          size_t n) {
  for (size_t j = 0; j < n; j++) out[j] = std::max(std::max(a[j], b[j]), std::max(c[j], d[j]));
}

BNN_SIMD_CLONES void subtract(int32_t* x, const int32_t* y, size_t n) {
  for (size_t j = 0; j < n; j++) x[j] -= y[j];
}

// acc[f] += ±v for the (t, ch) row of the first conv's weights (mask 0 → +v, −1 → −v).
BNN_SIMD_CLONES void add_signed(int32_t* acc, const int32_t* mask, int32_t v, size_t n) {
  for (size_t f = 0; f < n; f++) acc[f] += (v ^ mask[f]) - mask[f];
}

}  // namespace

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
void engine::binary_tile_portable(const BinaryTile& t) {
  for (size_t i = 0; i < t.rows; i++)
    for (size_t g = 0; g < t.groups; g++) {
      const uint64_t* w = t.w + g * t.words * 8;
      for (size_t l = 0; l < 8; l++) {
        int64_t sum = 0;
        for (int p = t.planes ? 7 : 0; p >= 0; p--) {
          const uint64_t* a = t.a + (t.planes ? i * 8 + size_t(p) : i) * t.lda;
          int64_t pc = 0;
          for (size_t q = 0; q < t.words; q++) pc += __builtin_popcountll(a[q] ^ w[q * 8 + l]);
          sum = 2 * sum + (int64_t(t.K) - 2 * pc);
        }
        t.c[i * t.ldc + 8 * g + l] = int32_t(sum);
      }
    }
}

BNN_SIMD_CLONES void engine::float_tile_portable(const FloatTile& t) {
  for (size_t i = 0; i < t.rows; i++) {
    int32_t* c = t.c + i * t.ldc;
    float acc[16];
    for (size_t f = 0; f < t.ldw; f += 16) {
      for (size_t v = 0; v < 16; v++) acc[v] = 0;
      for (size_t k = 0; k < t.K; k++) {
        const float x = t.x[i * t.ldx + k];
        for (size_t v = 0; v < 16; v++) acc[v] += x * t.w[k * t.ldw + f + v];
      }
      for (size_t v = 0; v < 16; v++) c[f + v] = int32_t(acc[v]);
    }
  }
}

void engine::threshold_portable(const int32_t* s, const int32_t* t, const int32_t* negate, size_t count,
                                uint64_t* out) {
  for (size_t j = 0; j < count; j += 64) {
    uint64_t word = 0;
    for (size_t e = 0; e < 64 && j + e < count; e++)
      word |= uint64_t((s[j + e] ^ negate[j + e]) - negate[j + e] >= t[j + e]) << e;
    out[j / 64] = word;
  }
}

BNN_SIMD_CLONES void engine::pack_pixels_portable(const uint8_t* pixels, size_t k, bool planes, uint64_t* dst,
                                                   size_t stride) {
  for (size_t i = 0; i < k; i += 64) {
    const size_t n = std::min<size_t>(64, k - i);
    for (size_t q = 0; q < (planes ? 8 : 1); q++) {
      const unsigned shift = planes ? unsigned(q) : 7;  // a sign row is the top bit: p ≥ 128
      uint64_t word = 0;
      for (size_t e = 0; e < n; e++) word |= uint64_t((pixels[i + e] >> shift) & 1) << e;
      dst[q * stride + i / 64] = word;
    }
  }
}

namespace {

struct Kernels {
  engine::BinaryTileFn binary;
  engine::FloatTileFn floats;
  engine::PackPixelsFn pack;
  engine::ThresholdFn threshold;
};

// Packs columns [j0, j0 + count) of one row of sums into words starting at bit j0 (j0 % 64 == 0).
inline void threshold_row(const Layer& l, const Kernels& kern, const int32_t* sums, size_t j0, size_t count,
                          uint64_t* out) {
  kern.threshold(sums, l.thresholds.data() + j0, l.negate.data() + j0, count, out + j0 / 64);
}

// ---- per-thread scratch --------------------------------------------------------------------

struct Scratch {
  Buffer<uint64_t> rows;  // im2col rows of one tile
  Buffer<float> xf;       // the first conv's im2col rows
  Buffer<float> image;    // the first conv's current image as 2p − 255
  size_t image_index = SIZE_MAX;
  Buffer<int32_t> sums;   // the tile's integer sums
  Buffer<int32_t> pooled;
};

// ---- the layers ------------------------------------------------------------------------------

// A conv layer's work comes in items (image, output row after pooling), in tiles of a few items
// so that each product has enough rows; parts of the pool take contiguous ranges of items.
struct ConvTile {
  size_t item0, items;
};

// Conv output positions of items [item0, item0 + items): pool rows × (ow·pool) columns each.
inline size_t tile_positions(const Layer& l, size_t items) { return items * l.pool * l.ow * l.pool; }

// Calls at(row, b, y, x) for each conv output position of the tile, in order (y, x may lie in the padding).
template <typename At>
void for_positions(const Layer& l, const ConvTile& t, const At& at) {
  const size_t cols = l.ow * l.pool;
  size_t row = 0;
  for (size_t it = t.item0; it < t.item0 + t.items; it++) {
    const size_t b = it / l.oh, yo = it % l.oh;
    for (size_t dy = 0; dy < l.pool; dy++)
      for (size_t x = 0; x < cols; x++, row++) at(row, b, yo * l.pool + dy, x);
  }
}

// The first conv, on pixels: im2col of (2p − 255) (0 in the padding), then the float product.
void pixel_conv_sums(const Layer& l, const uint8_t* pixels, const ConvTile& t, Scratch& s, const Kernels& kern) {
  const size_t M = tile_positions(l, t.items), F = l.units;
  int32_t* sums = s.sums.data();
  if (l.wfloat.empty()) {  // sums too large for exact float: integer sign-and-add
    std::memset(sums, 0, M * l.ldc * sizeof(int32_t));
    for_positions(l, t, [&](size_t row, size_t b, size_t y, size_t x) {
      for (size_t i = 0; i < l.ks; i++)
        for (size_t j = 0; j < l.ks; j++) {
          const ptrdiff_t yy = ptrdiff_t(y + i) - ptrdiff_t(l.pad), xx = ptrdiff_t(x + j) - ptrdiff_t(l.pad);
          if (yy < 0 || yy >= ptrdiff_t(l.h) || xx < 0 || xx >= ptrdiff_t(l.w)) continue;
          const uint8_t* p = pixels + ((b * l.h + size_t(yy)) * l.w + size_t(xx)) * l.c;
          for (size_t ch = 0; ch < l.c; ch++)
            add_signed(sums + row * l.ldc, l.wsign.data() + ((i * l.ks + j) * l.c + ch) * F, 2 * int32_t(p[ch]) - 255,
                       F);
        }
    });
    return;
  }
  s.xf.reserve(M * l.K);
  float* xf = s.xf.data();
  const size_t span = l.ks * l.c, image_size = l.h * l.w * l.c;  // span: one window row
  s.image.reserve(image_size);
  const float* img = s.image.data();
  for_positions(l, t, [&](size_t row, size_t b, size_t y, size_t x) {
    if (s.image_index != b) {  // each pixel converted once, not once per tap
      const uint8_t* p = pixels + b * image_size;
      for (size_t e = 0; e < image_size; e++) s.image.data()[e] = float(2 * int32_t(p[e]) - 255);
      s.image_index = b;
    }
    float* dst = xf + row * l.K;
    const ptrdiff_t x0 = ptrdiff_t(x) - ptrdiff_t(l.pad);
    for (size_t i = 0; i < l.ks; i++) {
      const ptrdiff_t yy = ptrdiff_t(y + i) - ptrdiff_t(l.pad);
      if (yy >= 0 && yy < ptrdiff_t(l.h) && x0 >= 0 && x0 + ptrdiff_t(l.ks) <= ptrdiff_t(l.w)) {
        std::memcpy(dst, img + (size_t(yy) * l.w + size_t(x0)) * l.c, span * sizeof(float));
        dst += span;
        continue;
      }
      for (size_t j = 0; j < l.ks; j++, dst += l.c) {
        const ptrdiff_t xx = x0 + ptrdiff_t(j);
        if (yy < 0 || yy >= ptrdiff_t(l.h) || xx < 0 || xx >= ptrdiff_t(l.w)) std::memset(dst, 0, l.c * sizeof(float));
        else std::memcpy(dst, img + (size_t(yy) * l.w + size_t(xx)) * l.c, l.c * sizeof(float));
      }
    }
  });
  kern.floats(engine::FloatTile{xf, l.K, l.K, l.wfloat.data(), l.ldc, M, sums, l.ldc});
}

// A conv on packed bits: im2col of whole words (a padded tap is all +1: ones in the c real bits),
// the binary product, then the padded taps' contribution subtracted.
void bit_conv_sums(const Layer& l, const uint64_t* in, const ConvTile& t, Scratch& s, const Kernels& kern) {
  const size_t M = tile_positions(l, t.items), pw = l.pw_in;
  s.rows.reserve(M * l.words);
  uint64_t* rows = s.rows.data();
  uint64_t ones[64];  // one pixel of +1s (pw ≤ 64 is checked at construction)
  for (size_t q = 0; q < pw; q++) {
    const size_t bits = std::min<size_t>(64, l.c - q * 64);
    ones[q] = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
  }
  for_positions(l, t, [&](size_t row, size_t b, size_t y, size_t x) {
    const uint64_t* img = in + b * l.in_row;
    const ptrdiff_t x0 = ptrdiff_t(x) - ptrdiff_t(l.pad);
    uint64_t* dst = rows + row * l.words;
    for (size_t i = 0; i < l.ks; i++) {
      const ptrdiff_t yy = ptrdiff_t(y + i) - ptrdiff_t(l.pad);
      const bool row_inside = yy >= 0 && yy < ptrdiff_t(l.h);
      if (row_inside && x0 >= 0 && x0 + ptrdiff_t(l.ks) <= ptrdiff_t(l.w)) {
        // The window's row lies inside the image: ks pixels in a row are contiguous words.
        std::memcpy(dst, img + (size_t(yy) * l.w + size_t(x0)) * pw, l.ks * pw * sizeof(uint64_t));
        dst += l.ks * pw;
        continue;
      }
      for (size_t j = 0; j < l.ks; j++, dst += pw) {
        const ptrdiff_t xx = x0 + ptrdiff_t(j);
        const uint64_t* src = row_inside && xx >= 0 && xx < ptrdiff_t(l.w) ? img + (size_t(yy) * l.w + size_t(xx)) * pw
                                                                            : ones;
        std::memcpy(dst, src, pw * sizeof(uint64_t));
      }
    }
  });
  int32_t* sums = s.sums.data();
  kern.binary(engine::BinaryTile{rows, l.words, l.weights.data(), l.words, l.K, M, (l.units + 7) / 8, false, sums,
                                 l.ldc});
  if (!l.padded) return;
  for_positions(l, t, [&](size_t row, size_t, size_t y, size_t x) {
    const size_t id = l.case_y[y] * l.cases_x + l.case_x[x];
    if (id != 0) subtract(sums + row * l.ldc, l.corr.data() + id * l.units, l.units);
  });
}

// Pools the tile's sums and packs the thresholded bits into the output pixels.
void conv_output(const Layer& l, const ConvTile& t, Scratch& s, const Kernels& kern, uint64_t* out) {
  const size_t F = l.units, cols = l.ow * l.pool, ld = l.ldc;
  const int32_t* sums = s.sums.data();
  s.pooled.reserve(F);
  for (size_t i = 0; i < t.items; i++) {
    const size_t it = t.item0 + i, b = it / l.oh, yo = it % l.oh;
    const int32_t* base = sums + i * l.pool * cols * ld;
    uint64_t* px = out + b * l.out_row + yo * l.ow * l.pw_out;
    for (size_t x = 0; x < l.ow; x++, px += l.pw_out) {
      const int32_t* v = base + x * l.pool * ld;
      if (l.pool == 2) {
        max4(v, v + ld, v + cols * ld, v + cols * ld + ld, s.pooled.data(), F);
        v = s.pooled.data();
      }
      threshold_row(l, kern, v, 0, F, px);
    }
  }
}

// Dense layers: blocks of rows × columns, column-block major so that a part's consecutive blocks
// share one block of weights (which then stays in cache).
constexpr size_t kDenseRows = 32;   // images per block
constexpr size_t kDenseCols = 512;  // neurons per block (a multiple of 64: blocks own whole words)

void dense_block(const Layer& l, const uint64_t* a, size_t i0, size_t i1, size_t j0, size_t j1, Scratch& s,
                 const Kernels& kern, uint64_t* out_bits, double* scores) {
  const size_t rows = i1 - i0, cols = j1 - j0, ld = round_up(cols, 16);
  const bool planes = l.input == Input::Pixels;
  s.sums.reserve(rows * ld);
  int32_t* sums = s.sums.data();
  kern.binary(engine::BinaryTile{a + i0 * l.in_row, l.words, l.weights.data() + j0 * l.words, l.words, l.K, rows,
                                 (cols + 7) / 8, planes, sums, ld});
  for (size_t i = 0; i < rows; i++) {
    const int32_t* row = sums + i * ld;
    if (l.scores) {
      double* o = scores + (i0 + i) * l.units + j0;
      for (size_t j = 0; j < cols; j++) o[j] = l.scale[j0 + j] * row[j] + l.shift[j0 + j];
    } else {
      threshold_row(l, kern, row, j0, cols, out_bits + (i0 + i) * l.out_row);
    }
  }
}

// ---- construction: reading the spec -----------------------------------------------------------

Napi::Value field(const Napi::Object& o, const char* key, const std::string& where) {
  if (!o.Has(key)) throw Napi::TypeError::New(o.Env(), where + ": missing '" + key + "'");
  return o.Get(key);
}

size_t count_field(const Napi::Object& o, const char* key, const std::string& where, size_t max = 1u << 30) {
  const Napi::Value v = field(o, key, where);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= double(max) && d == double(size_t(d))))
    throw Napi::RangeError::New(o.Env(), where + ": '" + key + "' must be an integer in [0, " + std::to_string(max) +
                                             "]");
  return size_t(d);
}

std::string string_field(const Napi::Object& o, const char* key, const std::string& where) {
  const Napi::Value v = field(o, key, where);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), where + ": '" + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

template <typename T>
const T* typed_field(const Napi::Object& o, const char* key, napi_typedarray_type type, const char* type_name,
                     size_t length, const std::string& where) {
  const Napi::Value v = field(o, key, where);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(o.Env(), where + ": '" + key + "' must be a " + type_name);
  size_t n = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(o.Env(), v, nullptr, &n, &data, nullptr, nullptr) != napi_ok)
    throw Napi::TypeError::New(o.Env(), where + ": cannot read '" + key + "'");
  if (n != length)
    throw Napi::RangeError::New(o.Env(), where + ": '" + key + "' has " + std::to_string(n) + " elements, expected " +
                                             std::to_string(length));
  return static_cast<const T*>(data);
}

// Bit i of row r of the spec's weights (the JavaScript layout: 32-bit words, `stride32` per row).
inline bool spec_bit(const uint32_t* w, size_t stride32, size_t r, size_t i) {
  return (w[r * stride32 + i / 32] >> (i % 32)) & 1;
}

// Copies the weights into the vertical layout (engine_kernels.h), with the input's gaps: logical
// bit i = g·group + e (g a pixel or a tap, e < group) goes to word g·gw + e/64, bit e % 64.
void lay_out_weights(Layer& l, const uint32_t* w, size_t stride32, size_t group, size_t gw, size_t words) {
  l.words = words;
  l.weights.zeroed((l.units + 7) / 8 * words * 8);
  for (size_t r = 0; r < l.units; r++) {
    uint64_t* dst = l.weights.data() + (r / 8) * words * 8 + r % 8;  // word q at dst[8q]
    const uint32_t* src = w + r * stride32;
    if (group % 64 == 0) {  // no gaps: the same bits, in 64-bit words (bits past K cleared)
      for (size_t q = 0; q < words_for(l.K); q++) {
        uint64_t word = src[2 * q] | uint64_t(src[2 * q + 1]) << 32;
        if (q == l.K / 64 && l.K % 64) word &= (1ULL << (l.K % 64)) - 1;
        dst[8 * q] = word;
      }
      continue;
    }
    for (size_t i = 0; i < l.K; i++)
      if (spec_bit(w, stride32, r, i)) dst[8 * ((i / group) * gw + (i % group) / 64)] |= 1ULL << ((i % group) % 64);
  }
}

// For one axis: the range [lo, hi) of taps inside the input for each output position, numbered
// so that id 0 is the full range (no padding) when it occurs.
void border_cases(size_t out, size_t pad, size_t k, size_t in, std::vector<uint32_t>& id,
                  std::vector<std::pair<size_t, size_t>>& ranges) {
  ranges.assign(1, {0, k});
  id.resize(out);
  for (size_t o = 0; o < out; o++) {
    const ptrdiff_t p0 = ptrdiff_t(o) - ptrdiff_t(pad);
    const size_t lo = size_t(std::clamp<ptrdiff_t>(-p0, 0, ptrdiff_t(k)));
    const size_t hi = std::max(lo, size_t(std::clamp<ptrdiff_t>(ptrdiff_t(in) - p0, 0, ptrdiff_t(k))));
    const auto it = std::find(ranges.begin(), ranges.end(), std::make_pair(lo, hi));
    id[o] = uint32_t(it - ranges.begin());
    if (it == ranges.end()) ranges.emplace_back(lo, hi);
  }
}

void read_output(Layer& l, const Napi::Object& o, const std::string& where) {
  const Napi::Env env = o.Env();
  const std::string kind = string_field(o, "kind", where + " output");
  if (kind == "sign") {
    const auto* t = typed_field<int32_t>(o, "thresholds", napi_int32_array, "Int32Array", l.units, where);
    const auto* f = typed_field<uint8_t>(o, "flips", napi_uint8_array, "Uint8Array", l.units, where);
    l.thresholds.assign(t, t + l.units);
    l.negate.resize(l.units);
    for (size_t j = 0; j < l.units; j++) l.negate[j] = f[j] ? -1 : 0;
  } else if (kind == "scores") {
    const auto* a = typed_field<double>(o, "scale", napi_float64_array, "Float64Array", l.units, where);
    const auto* b = typed_field<double>(o, "shift", napi_float64_array, "Float64Array", l.units, where);
    l.scale.assign(a, a + l.units);
    l.shift.assign(b, b + l.units);
    l.scores = true;
  } else {
    throw Napi::TypeError::New(env, where + ": output kind must be 'sign' or 'scores'");
  }
}

Layer read_layer(const Napi::Object& o, size_t index, const Layer* prev, size_t input_size) {
  const Napi::Env env = o.Env();
  Layer l;
  l.name = o.Has("name") && o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : "";
  const std::string where = "layer " + std::to_string(index) + (l.name.empty() ? "" : " (" + l.name + ")");
  const std::string kind = string_field(o, "kind", where), input = string_field(o, "input", where);
  if (kind != "conv" && kind != "dense") throw Napi::TypeError::New(env, where + ": kind must be 'conv' or 'dense'");
  l.conv = kind == "conv";
  if (input == "pixels") l.input = Input::Pixels;
  else if (input == "pixelSigns" && !l.conv) l.input = Input::PixelSigns;
  else if (input == "bits") l.input = Input::Bits;
  else throw Napi::TypeError::New(env, where + ": input '" + input + "' is not allowed");
  if ((index == 0) != (l.input != Input::Bits))
    throw Napi::RangeError::New(env, where + ": only the first layer reads pixels");

  const Napi::Value wv = field(o, "weights", where);
  if (!wv.IsObject()) throw Napi::TypeError::New(env, where + ": 'weights' must be packed bits");
  const Napi::Object wo = wv.As<Napi::Object>();
  l.units = count_field(wo, "rows", where + " weights", 1u << 24);
  l.K = count_field(wo, "k", where + " weights", 1u << 28);
  const size_t stride32 = count_field(wo, "stride", where + " weights", 1u << 28);
  if (l.units == 0 || l.K == 0 || stride32 * 32 < l.K || stride32 % 16 != 0)
    throw Napi::RangeError::New(env, where + ": weights must have rows, k and a stride of ⌈k/512⌉·16 words or more");
  const uint64_t words32 = checked_mul(env, l.units, stride32, "rows · stride");
  const auto* w = typed_field<uint32_t>(wo, "data", napi_uint32_array, "Uint32Array", words32, where + " weights");
  const Napi::Value ov = field(o, "output", where);
  if (!ov.IsObject()) throw Napi::TypeError::New(env, where + ": 'output' must be an object");
  read_output(l, ov.As<Napi::Object>(), where);

  if (l.conv) {
    l.h = count_field(o, "height", where, 1u << 16), l.w = count_field(o, "width", where, 1u << 16);
    l.c = count_field(o, "channels", where, 4096), l.ks = count_field(o, "kernelSize", where, 64);
    l.pool = count_field(o, "pool", where, 2);
    const std::string padding = string_field(o, "padding", where);
    if (l.h == 0 || l.w == 0 || l.c == 0 || l.ks == 0 || l.pool == 0 || (padding != "same" && padding != "valid"))
      throw Napi::RangeError::New(env, where + ": bad conv geometry");
    if (l.scores) throw Napi::RangeError::New(env, where + ": a conv layer cannot give the scores");
    if (l.K != l.ks * l.ks * l.c) throw Napi::RangeError::New(env, where + ": weights do not match the kernel size");
    l.pad = padding == "same" ? (l.ks - 1) / 2 : 0;
    l.ch = padding == "same" ? l.h : l.h - std::min(l.h, l.ks - 1);
    l.cw = padding == "same" ? l.w : l.w - std::min(l.w, l.ks - 1);
    if (padding == "valid" && (l.h < l.ks || l.w < l.ks))
      throw Napi::RangeError::New(env, where + ": the input is smaller than the kernel");
    l.oh = l.ch / l.pool, l.ow = l.cw / l.pool;
    if (l.oh == 0 || l.ow == 0) throw Napi::RangeError::New(env, where + ": pooling leaves no output");
    l.ldc = round_up(l.units, 16);
    l.pw_out = words_for(l.units);
    l.out_row = l.oh * l.ow * l.pw_out;
    l.macs_per_image = double(l.ch) * l.cw * l.K * l.units * (prev ? 1 : 32);
    if (prev) {
      if (!prev->conv || prev->oh != l.h || prev->ow != l.w || prev->units != l.c)
        throw Napi::RangeError::New(env, where + ": its input does not match the previous layer's output");
      l.pw_in = prev->pw_out;
      l.in_row = prev->out_row;
      if (l.pw_in > 64) throw Napi::RangeError::New(env, where + ": more than 4096 channels");
      lay_out_weights(l, w, stride32, l.c, l.pw_in, l.ks * l.ks * l.pw_in);
      // Padding corrections: Σ over the padded taps of each tap's Σ_ch w, per border case.
      std::vector<std::pair<size_t, size_t>> ry, rx;
      border_cases(l.ch, l.pad, l.ks, l.h, l.case_y, ry);
      border_cases(l.cw, l.pad, l.ks, l.w, l.case_x, rx);
      l.cases_x = rx.size();
      l.padded = ry.size() > 1 || rx.size() > 1;
      std::vector<int32_t> tap(l.ks * l.ks * l.units);
      for (size_t f = 0; f < l.units; f++)
        for (size_t t = 0; t < l.ks * l.ks; t++) {
          int32_t s = 0;
          for (size_t e = 0; e < l.c; e++) s += spec_bit(w, stride32, f, t * l.c + e) ? 1 : -1;
          tap[t * l.units + f] = s;
        }
      l.corr.assign(ry.size() * rx.size() * l.units, 0);
      for (size_t cy = 0; cy < ry.size(); cy++)
        for (size_t cx = 0; cx < rx.size(); cx++)
          for (size_t i = 0; i < l.ks; i++)
            for (size_t j = 0; j < l.ks; j++) {
              if (i >= ry[cy].first && i < ry[cy].second && j >= rx[cx].first && j < rx[cx].second) continue;
              int32_t* dst = l.corr.data() + (cy * rx.size() + cx) * l.units;
              for (size_t f = 0; f < l.units; f++) dst[f] += tap[(i * l.ks + j) * l.units + f];
            }
    } else {
      if (l.h * l.w * l.c != input_size) throw Napi::RangeError::New(env, where + ": does not match the input size");
      if (255.0 * double(l.K) < double(1 << 24)) {  // every sum exact in float32
        l.wfloat.assign(l.K * l.ldc, 0.0f);
        for (size_t f = 0; f < l.units; f++)
          for (size_t i = 0; i < l.K; i++) l.wfloat[i * l.ldc + f] = spec_bit(w, stride32, f, i) ? 1.0f : -1.0f;
      } else {
        l.wsign.resize(l.K * l.units);
        for (size_t f = 0; f < l.units; f++)
          for (size_t i = 0; i < l.K; i++) l.wsign[i * l.units + f] = spec_bit(w, stride32, f, i) ? 0 : -1;
      }
    }
    return l;
  }

  // Dense.
  l.ldc = round_up(l.units, 16);
  l.pw_out = words_for(l.units);
  l.out_row = l.pw_out;
  l.macs_per_image = double(l.K) * l.units * (l.input == Input::Pixels ? 8 : 1);
  if (prev) {
    const size_t prev_values = prev->conv ? prev->oh * prev->ow * prev->units : prev->units;
    if (prev->scores || l.K != prev_values)
      throw Napi::RangeError::New(env, where + ": takes " + std::to_string(l.K) + " inputs, the previous layer gives " +
                                           std::to_string(prev_values));
    l.in_row = prev->out_row;
    if (prev->conv) lay_out_weights(l, w, stride32, prev->units, prev->pw_out, prev->oh * prev->ow * prev->pw_out);
    else lay_out_weights(l, w, stride32, l.K, words_for(l.K), words_for(l.K));
  } else {
    if (l.K != input_size) throw Napi::RangeError::New(env, where + ": does not match the input size");
    lay_out_weights(l, w, stride32, l.K, words_for(l.K), words_for(l.K));
    l.in_row = l.words * (l.input == Input::Pixels ? 8 : 1);
  }
  return l;
}

// ---- the network -----------------------------------------------------------------------------

class BinaryNetwork : public Napi::ObjectWrap<BinaryNetwork> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BinaryNetwork",
                       {InstanceMethod<&BinaryNetwork::Run>("run"),
                        InstanceAccessor<&BinaryNetwork::Layers>("layers"),
                        InstanceAccessor<&BinaryNetwork::Isa>("isa")});
  }

  explicit BinaryNetwork(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BinaryNetwork>(info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject())
      throw Napi::TypeError::New(env, "BinaryNetwork needs a spec { inputSize, layers }");
    const Napi::Object spec = info[0].As<Napi::Object>();
    input_size_ = count_field(spec, "inputSize", "spec", 1u << 28);
    const Napi::Value lv = field(spec, "layers", "spec");
    if (!lv.IsArray()) throw Napi::TypeError::New(env, "spec: 'layers' must be an array");
    const Napi::Array arr = lv.As<Napi::Array>();
    if (arr.Length() == 0) throw Napi::RangeError::New(env, "spec: no layers");
    for (uint32_t i = 0; i < arr.Length(); i++) {
      const Napi::Value v = arr.Get(i);
      if (!v.IsObject()) throw Napi::TypeError::New(env, "spec: layer " + std::to_string(i) + " is not an object");
      layers_.push_back(read_layer(v.As<Napi::Object>(), i, i ? &layers_.back() : nullptr, input_size_));
      if (layers_.back().scores != (i + 1 == arr.Length()))
        throw Napi::RangeError::New(env, "spec: only the last layer gives scores");
    }
    scratch_.resize(pool_threads());
    // Micro-kernels: AVX-512 where the CPU has VPOPCNTDQ, unless the spec asks for the portable ones.
    std::string isa = "avx512";
    if (spec.Has("isa") && !spec.Get("isa").IsUndefined()) isa = string_field(spec, "isa", "spec");
    if (isa != "avx512" && isa != "portable")
      throw Napi::RangeError::New(env, "spec: isa must be 'avx512' or 'portable'");
    kernels_ = {engine::binary_tile_portable, engine::float_tile_portable, engine::pack_pixels_portable,
                engine::threshold_portable};
#if defined(__x86_64__) || defined(_M_X64)
    __builtin_cpu_init();
    if (isa == "avx512" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vpopcntdq"))
      kernels_ = {engine::binary_tile_avx512, engine::float_tile_avx512, engine::pack_pixels_avx512,
                  engine::threshold_avx512};
#endif
    isa_ = kernels_.binary == engine::binary_tile_portable ? "portable" : "avx512";
  }

 private:
  Napi::Value Layers(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(layers_.size())); }
  Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isa_); }

  // run(pixels: Uint8Array, n, scores: Float64Array, threads, profile?: Float64Array): void
  //   scores[i·classes + j] for n images; profile[l] += seconds spent in layer l.
  Napi::Value Run(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const uint64_t n = arg_count(info, 1, "n", 1u << 24);
    const uint64_t threads = arg_count(info, 3, "threads", 1024);
    if (threads == 0) throw Napi::RangeError::New(env, "threads must be at least 1");
    const auto* pixels = arg_array<uint8_t>(info, 0, "pixels", napi_uint8_array, "Uint8Array",
                                            checked_mul(env, n, input_size_, "n · input"));
    const size_t classes = layers_.back().units;
    auto* scores = arg_array<double>(info, 2, "scores", napi_float64_array, "Float64Array",
                                     checked_mul(env, n, classes, "n · classes"));
    double* profile = nullptr;
    if (info.Length() > 4 && !info[4].IsUndefined())
      profile = arg_array<double>(info, 4, "profile", napi_float64_array, "Float64Array", layers_.size());
    if (n == 0) return env.Undefined();
    for (const Layer& l : layers_) checked_mul(env, n, std::max(l.out_row, l.in_row), "n · activation words");
    for (size_t li = 0; li < layers_.size(); li++) {
      const auto start = std::chrono::steady_clock::now();
      const uint64_t* in = li == 0 ? nullptr : act_[(li - 1) % 2].data();
      Layer& l = layers_[li];
      uint64_t* out = nullptr;
      if (!l.scores) {
        act_[li % 2].reserve(n * l.out_row);
        out = act_[li % 2].data();  // every word is written: threshold + pack leaves the bits past the units 0
      }
      const size_t parts = threads_for(2.0 * n * l.macs_per_image / 16, threads);
      if (l.conv) RunConv(l, pixels, in, n, out, parts);
      else RunDense(l, li == 0 ? FirstRows(l, pixels, n, parts) : in, n, out, scores, parts);
      if (profile)
        profile[li] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return env.Undefined();
  }

  void RunConv(const Layer& l, const uint8_t* pixels, const uint64_t* in, size_t n, uint64_t* out, size_t parts) {
    const size_t items = n * l.oh;
    const size_t per_item = tile_positions(l, 1);
    // ~256 positions per tile (GEMM rows), fewer when the parts would otherwise go idle.
    const size_t tile = std::max<size_t>(1, std::min((items + parts - 1) / parts, std::max<size_t>(1, 256 / per_item)));
    run_parts(parts, [&](size_t p) {
      Scratch& s = scratch_[p];
      s.image_index = SIZE_MAX;  // new pixels in every run
      const size_t lo = items * p / parts, hi = items * (p + 1) / parts;
      s.sums.reserve(tile_positions(l, tile) * l.ldc);
      for (size_t i = lo; i < hi; i += tile) {
        const ConvTile t{i, std::min(tile, hi - i)};
        if (l.input == Input::Pixels) pixel_conv_sums(l, pixels, t, s, kernels_);
        else bit_conv_sums(l, in, t, s, kernels_);
        conv_output(l, t, s, kernels_, out);
      }
    });
  }

  // The first dense layer's input rows: bit planes of the pixels, or their signs.
  const uint64_t* FirstRows(const Layer& l, const uint8_t* pixels, size_t n, size_t parts) {
    first_.reserve(n * l.in_row);
    uint64_t* rows = first_.data();
    parallel_for(n, 16, parts, [&](size_t lo, size_t hi) {
      for (size_t b = lo; b < hi; b++)
        kernels_.pack(pixels + b * l.K, l.K, l.input == Input::Pixels, rows + b * l.in_row, l.words);
    });
    return rows;
  }

  void RunDense(const Layer& l, const uint64_t* in, size_t n, uint64_t* out, double* scores, size_t parts) {
    const size_t row_blocks = (n + kDenseRows - 1) / kDenseRows;
    // Columns in blocks of kDenseCols, and finer (whole words) when there are too few row blocks
    // to keep every part busy (a batch of one image).
    size_t cols = std::min(l.units, kDenseCols);
    if (row_blocks < 2 * parts) cols = std::max<size_t>(64, round_up((l.units + 2 * parts - 1) / (2 * parts), 64));
    if (l.scores) cols = l.units;
    const size_t col_blocks = (l.units + cols - 1) / cols, blocks = row_blocks * col_blocks;
    run_parts(std::min(parts, blocks), [&](size_t p) {
      const size_t used = std::min(parts, blocks);
      for (size_t q = blocks * p / used; q < blocks * (p + 1) / used; q++) {
        const size_t cb = q / row_blocks, rb = q % row_blocks;
        dense_block(l, in, rb * kDenseRows, std::min(n, (rb + 1) * kDenseRows), cb * cols,
                    std::min(l.units, (cb + 1) * cols), scratch_[p], kernels_, out, scores);
      }
    });
  }

  size_t input_size_ = 0;
  std::vector<Layer> layers_;
  std::vector<Scratch> scratch_;
  Buffer<uint64_t> act_[2], first_;
  Kernels kernels_{};
  std::string isa_;
};

}  // namespace

void register_engine(Napi::Env env, Napi::Object exports) {
  exports.Set("BinaryNetwork", BinaryNetwork::Define(env));
}

}  // namespace bnn
