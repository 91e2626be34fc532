// Native ConvNet kernels for training (Conv2D forward and both backprops; max-pool is in
// pool_ops.cc), on Float32Array views of the wasm heap like train_ops.cc. NHWC throughout, filters
// [kh, kw, Ci, Co], so a filter is already the K×Co right operand of the im2col product
// (K = kh·kw·Ci, patch order: tap (i, j) row-major, then channel).
//
// Float convs: im2col into a reused buffer, tiled so that it stays ≤ kTileBytes, then the packed
// sgemm. Binary convs (input and filter all ±1): the patches are assembled directly as bits from a
// per-pixel bit packing of the input, and multiplied by the XNOR GEMM. Zero padding is not ±1: a
// padded tap is packed as +1 and its contribution, the sum of that tap's weights, is subtracted
// again afterwards (one correction vector per border case), so the result is the float conv's
// exact integer.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bit_pack.h"
#include "napi_args.h"
#include "parallel.h"
#include "register.h"
#include "sgemm.h"
#include "xnor_common.h"

namespace bnn {
namespace {

// Bound on one tile's patch (or column-gradient) buffer. Small enough to stay in cache between
// the im2col and the GEMM that reads it: measured against 64 MB tiles, 6 MB ones made CIFAR-10's
// 128 → 128 layer's backprops 10–20 % and Fashion's 32 → 32 input gradient 2× faster.
constexpr size_t kTileBytes = size_t(6) << 20;

// Buffers reused across calls (the addon runs on the JavaScript thread only).
struct Scratch {
  std::vector<float> cols, wt;  // wt: a filter or its gradient, transposed to (Co,K)
  std::vector<uint64_t> xbits, pbits, wbits, ones;
  std::vector<int32_t> acc, corr;
};
Scratch& scratch() {
  static Scratch s;
  return s;
}

// NHWC input (n, h, w, ci), filter (kh, kw, ci, co), output (n, ho, wo, co); strides sh, sw; the first
// window starts at (−top, −left).
struct ConvGeom {
  size_t n, h, w, ci, kh, kw, co, sh, sw, top, left, ho, wo;
  size_t taps() const { return kh * kw; }
  size_t K() const { return kh * kw * ci; }
  size_t rows() const { return n * ho * wo; }
  // 1×1, stride 1, no padding, same size: the input already is the patch matrix.
  bool pointwise() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && top == 0 && left == 0 && ho == h && wo == w;
  }
};

// The geometry fields of every conv entry point, in ConvGeom's order.
constexpr const char* kConvGeomKeys[] = {"n", "h", "w", "inChannels", "filterHeight", "filterWidth", "outChannels",
                                         "strideHeight", "strideWidth", "padTop", "padLeft", "outHeight", "outWidth"};

// Every size is checked to fit in memory arithmetic; reads outside the input are treated as padding, so no
// value of the pads or output size can read out of bounds.
ConvGeom conv_geom(const Fields& f) {
  const Napi::Env env = f.env();
  constexpr uint64_t kDim = 1u << 24;
  size_t v[13];
  for (size_t i = 0; i < 13; i++) v[i] = f.count(kConvGeomKeys[i], kDim);
  const ConvGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  if (g.kh == 0 || g.kw == 0 || g.sh == 0 || g.sw == 0)
    throw Napi::RangeError::New(env, "filter size and strides must be ≥ 1");
  checked_mul(env, checked_mul(env, checked_mul(env, g.n, g.h, "n·h"), g.w, "n·h·w"), g.ci, "n·h·w·inChannels");
  const uint64_t rows = checked_mul(env, checked_mul(env, g.n, g.ho, "n·outH"), g.wo, "n·outH·outW");
  checked_mul(env, rows, g.co, "n·outH·outW·outChannels");
  checked_mul(env, checked_mul(env, rows, g.taps(), "rows·taps"), g.ci, "rows·kh·kw·inChannels");
  checked_mul(env, g.K(), g.co, "kh·kw·inChannels·outChannels");
  return g;
}

// Output row r = (n, oy, ox): its window's top-left input position (may be negative).
struct Window {
  size_t n;
  ptrdiff_t y0, x0;
};
inline Window window(const ConvGeom& g, size_t r) {
  const size_t ox = r % g.wo, t = r / g.wo, oy = t % g.ho;
  return {t / g.ho, ptrdiff_t(oy * g.sh) - ptrdiff_t(g.top), ptrdiff_t(ox * g.sw) - ptrdiff_t(g.left)};
}

// im2col: dst[(r − r0)·K + (i·kw + j)·ci + c] = x[n, y0 + i, x0 + j, c], 0 outside the input.
void im2col(const ConvGeom& g, const float* x, size_t r0, size_t r1, float* dst) {
  const size_t K = g.K(), ci = g.ci, rowlen = g.kw * ci;
  parallel_for(r1 - r0, 64, threads_for_elements(double(r1 - r0) * K), [&](size_t lo, size_t hi) {
    for (size_t r = r0 + lo; r < r0 + hi; r++) {
      const Window win = window(g, r);
      const float* img = x + win.n * g.h * g.w * ci;
      float* out = dst + (r - r0) * K;
      for (size_t i = 0; i < g.kh; i++, out += rowlen) {
        const ptrdiff_t y = win.y0 + ptrdiff_t(i);
        if (y < 0 || y >= ptrdiff_t(g.h)) {
          std::memset(out, 0, rowlen * sizeof(float));
          continue;
        }
        const float* src = img + size_t(y) * g.w * ci;
        if (win.x0 >= 0 && win.x0 + ptrdiff_t(g.kw) <= ptrdiff_t(g.w)) {
          std::memcpy(out, src + size_t(win.x0) * ci, rowlen * sizeof(float));
          continue;
        }
        for (size_t j = 0; j < g.kw; j++) {
          const ptrdiff_t xx = win.x0 + ptrdiff_t(j);
          if (xx < 0 || xx >= ptrdiff_t(g.w)) std::memset(out + j * ci, 0, ci * sizeof(float));
          else std::memcpy(out + j * ci, src + size_t(xx) * ci, ci * sizeof(float));
        }
      }
    }
  });
}

// Rows of the patch matrix (or whole images) per tile so that `bytes_per_row`-sized ones stay within kTileBytes.
size_t tile_rows(size_t bytes_per_row) { return std::max<size_t>(1, kTileBytes / std::max<size_t>(1, bytes_per_row)); }

// product(patches, r0, r1) over the patch matrix of x, rows [r0, r1) at a time: x itself when the
// conv is pointwise, else im2col tiles in the reused buffer.
template <typename Product>
void for_patch_tiles(const ConvGeom& g, const float* x, const Product& product) {
  const size_t K = g.K(), rows = g.rows();
  if (g.pointwise()) return product(x, 0, rows);
  const size_t tile = std::min(rows, tile_rows(K * sizeof(float)));
  auto& cols = scratch().cols;
  if (cols.size() < tile * K) cols.resize(tile * K);
  for (size_t r0 = 0; r0 < rows; r0 += tile) {
    const size_t r1 = std::min(rows, r0 + tile);
    im2col(g, x, r0, r1, cols.data());
    product(cols.data(), r0, r1);
  }
}

void conv_float(const ConvGeom& g, const float* x, const float* w, float* out) {
  const size_t K = g.K();
  for_patch_tiles(g, x, [&](const float* patches, size_t r0, size_t r1) {
    sgemm(false, false, r1 - r0, g.co, K, patches, K, w, g.co, out + r0 * g.co, g.co, false, 0);
  });
}

// Ors `nbits` bits of src (bits beyond them zero) into the zeroed row dst at bit offset `off`.
inline void put_bits(uint64_t* dst, size_t off, const uint64_t* src, size_t nbits) {
  uint64_t* d = dst + off / 64;
  const unsigned s = off % 64;
  const size_t words = (nbits + 63) / 64;
  if (s == 0) {
    for (size_t q = 0; q < words; q++) d[q] |= src[q];
    return;
  }
  for (size_t q = 0; q < words; q++) {
    d[q] |= src[q] << s;
    // Nonzero only where real bits spill into the next word, which then lies within the row.
    if (const uint64_t spill = src[q] >> (64 - s)) d[q + 1] |= spill;
  }
}

// Border cases of one axis: for each output position, the range [lo, hi) of filter taps that fall
// inside the input; `id` numbers the distinct ranges.
struct AxisCases {
  std::vector<uint32_t> id;
  std::vector<std::pair<size_t, size_t>> range;
};
AxisCases axis_cases(size_t out, size_t stride, size_t pad, size_t k, size_t in) {
  AxisCases a;
  a.id.resize(out);
  for (size_t o = 0; o < out; o++) {
    const ptrdiff_t p0 = ptrdiff_t(o * stride) - ptrdiff_t(pad);
    const size_t lo = size_t(std::clamp<ptrdiff_t>(-p0, 0, ptrdiff_t(k)));
    const size_t hi = std::max(lo, size_t(std::clamp<ptrdiff_t>(ptrdiff_t(in) - p0, 0, ptrdiff_t(k))));
    const auto it = std::find(a.range.begin(), a.range.end(), std::make_pair(lo, hi));
    a.id[o] = uint32_t(it - a.range.begin());
    if (it == a.range.end()) a.range.emplace_back(lo, hi);
  }
  return a;
}

// The XNOR conv; false (out untouched) when the input or the filter is not all ±1.
bool try_conv_xnor(const ConvGeom& g, const float* x, const float* w, float* out) {
  const size_t K = g.K(), taps = g.taps(), ci = g.ci, co = g.co;
  const size_t stride = (K + 511) / 512 * 8;  // words per patch row, a multiple of one 512-bit vector
  const size_t pw = (ci + 63) / 64;           // words per packed input pixel
  Scratch& s = scratch();
  s.wbits.resize(co * stride);
  // The filter first: it is small, and the first conv (real-valued input) never gets further than the input check.
  if (!pack_cols(w, co, K, 0, co, s.wbits.data(), stride)) return false;
  const size_t pixels = g.n * g.h * g.w;
  s.xbits.resize(pixels * pw);
  std::atomic<bool> ok{true};
  parallel_for(pixels, 256, threads_for_elements(double(pixels) * ci), [&](size_t lo, size_t hi) {
    if (ok.load(std::memory_order_relaxed) && !pack_rows(x, ci, ci, lo, hi, s.xbits.data(), pw)) ok = false;
  });
  if (!ok) return false;

  // Padded taps enter as +1: corr[case][c] = Σ of the weights of the taps outside the input.
  const AxisCases ry = axis_cases(g.ho, g.sh, g.top, g.kh, g.h), rx = axis_cases(g.wo, g.sw, g.left, g.kw, g.w);
  const size_t ncx = rx.range.size();
  std::vector<int32_t> tapsum(taps * co, 0);
  for (size_t t = 0; t < taps; t++)
    for (size_t c = 0; c < ci; c++)
      for (size_t o = 0; o < co; o++) tapsum[t * co + o] += w[(t * ci + c) * co + o] > 0 ? 1 : -1;
  s.corr.assign(ry.range.size() * ncx * co, 0);
  for (size_t a = 0; a < ry.range.size(); a++)
    for (size_t b = 0; b < ncx; b++) {
      int32_t* corr = s.corr.data() + (a * ncx + b) * co;
      for (size_t i = 0; i < g.kh; i++)
        for (size_t j = 0; j < g.kw; j++) {
          const bool inside =
              i >= ry.range[a].first && i < ry.range[a].second && j >= rx.range[b].first && j < rx.range[b].second;
          if (!inside)
            for (size_t o = 0; o < co; o++) corr[o] += tapsum[(i * g.kw + j) * co + o];
        }
    }
  s.ones.assign(pw, 0);
  for (size_t c = 0; c < ci; c++) s.ones[c / 64] |= uint64_t(1) << (c % 64);

  const size_t rows = g.rows();
  const size_t tile = std::min(rows, tile_rows(stride * 8 + co * 4));
  if (s.pbits.size() < tile * stride) s.pbits.resize(tile * stride);
  if (s.acc.size() < tile * co) s.acc.resize(tile * co);
  for (size_t r0 = 0; r0 < rows; r0 += tile) {
    const size_t r1 = std::min(rows, r0 + tile), mt = r1 - r0;
    parallel_for(mt, 64, threads_for_elements(double(mt) * stride * 2), [&](size_t lo, size_t hi) {
      for (size_t r = lo; r < hi; r++) {
        const Window win = window(g, r0 + r);
        uint64_t* row = s.pbits.data() + r * stride;
        std::memset(row, 0, stride * sizeof(uint64_t));
        for (size_t i = 0; i < g.kh; i++) {
          const ptrdiff_t y = win.y0 + ptrdiff_t(i);
          for (size_t j = 0; j < g.kw; j++) {
            const ptrdiff_t xx = win.x0 + ptrdiff_t(j);
            const bool in = y >= 0 && y < ptrdiff_t(g.h) && xx >= 0 && xx < ptrdiff_t(g.w);
            const uint64_t* src =
                in ? s.xbits.data() + ((win.n * g.h + size_t(y)) * g.w + size_t(xx)) * pw : s.ones.data();
            put_bits(row, (i * g.kw + j) * ci, src, ci);
          }
        }
      }
    });
    xnor::parallel_gemm(xnor::best_gemm(), {s.pbits.data(), s.wbits.data(), stride, K, s.acc.data(), co, 0, mt, 0, co});
    parallel_for(mt, 64, threads_for_elements(double(mt) * co), [&](size_t lo, size_t hi) {
      for (size_t r = lo; r < hi; r++) {
        const size_t q = r0 + r, ox = q % g.wo, oy = q / g.wo % g.ho;
        const int32_t* corr = s.corr.data() + (ry.id[oy] * ncx + rx.id[ox]) * co;
        const int32_t* acc = s.acc.data() + r * co;
        float* o = out + q * co;
        for (size_t c = 0; c < co; c++) o[c] = float(acc[c] - corr[c]);
      }
    });
  }
  return true;
}

struct Conv2dArgs {
  const float* x;       // (N,H,W,Ci)
  const float* filter;  // (kh,kw,Ci,Co) = (K,Co)
  float* out;           // (N,Ho,Wo,Co)
  ConvGeom g;
  bool binary;          // allows the XNOR path
};

// conv2d({ x, filter, out, n, h, w, inChannels, filterHeight, filterWidth, outChannels, strideHeight,
//          strideWidth, padTop, padLeft, outHeight, outWidth, binary }): "xnor" | "float"
Conv2dArgs parse_conv2d(const Napi::CallbackInfo& info) {
  const Fields f(info, "conv2d", {"x", "filter", "out", "binary"}, kConvGeomKeys);
  Conv2dArgs p{};
  p.g = conv_geom(f);
  const ConvGeom& g = p.g;
  p.binary = f.boolean("binary");
  p.x = f.floats("x", g.n * g.h * g.w * g.ci);
  p.filter = f.floats("filter", g.K() * g.co);
  p.out = f.floats("out", g.rows() * g.co);
  return p;
}

// out[n, oy, ox, co] = Σ_{i, j, c} x[n, oy·sh − top + i, ox·sw − left + j, c] · filter[i, j, c, co] (zero
// outside x), i.e. out (N·Ho·Wo, Co) = patches (N·Ho·Wo, K) · filter (K, Co). Through the XNOR GEMM where
// `binary` allows it and x and the filter are all ±1 with K ≥ 64; true when it was taken.
bool conv2d(const Conv2dArgs& p) {
  const ConvGeom& g = p.g;
  if (g.rows() * g.co == 0) return false;
  const bool xnor = p.binary && g.K() >= 64 && g.K() < (1u << 24) && try_conv_xnor(g, p.x, p.filter, p.out);
  if (!xnor) conv_float(g, p.x, p.filter, p.out);
  return xnor;
}

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), conv2d(parse_conv2d(info)) ? "xnor" : "float");
}

struct Conv2dBackpropFilterArgs {
  const float* x;   // (N,H,W,Ci)
  const float* dy;  // (N,Ho,Wo,Co)
  float* dw;        // (kh,kw,Ci,Co) = (K,Co)
  ConvGeom g;
};

// conv2dBackpropFilter({ x, dy, dw, ...conv2d's geometry })
Conv2dBackpropFilterArgs parse_conv2d_backprop_filter(const Napi::CallbackInfo& info) {
  const Fields f(info, "conv2dBackpropFilter", {"x", "dy", "dw"}, kConvGeomKeys);
  Conv2dBackpropFilterArgs p{};
  p.g = conv_geom(f);
  const ConvGeom& g = p.g;
  p.x = f.floats("x", g.n * g.h * g.w * g.ci);
  p.dy = f.floats("dy", g.rows() * g.co);
  p.dw = f.floats("dw", g.K() * g.co);
  return p;
}

// dw (K,Co) = Σ_tiles patches (rows,K)ᵀ · dy (rows,Co).
void conv2d_backprop_filter(const Conv2dBackpropFilterArgs& p) {
  const ConvGeom& g = p.g;
  const float *x = p.x, *dy = p.dy;
  float* dw = p.dw;
  const size_t K = g.K(), co = g.co, rows = g.rows();
  if (rows == 0) {
    std::fill(dw, dw + K * co, 0.f);
    return;
  }
  // dW is K × co with K > co but in the first layer. Computed directly, the product packs the
  // patches (its left operand) afresh for every co-wide panel and splits K's rows over the threads;
  // computed as dWᵀ = dyᵀ · patches (K columns) and transposed, it copies the patch rows whole and
  // packs the narrow dy. Measured: Fashion's 32 → 32 layer 13 → 9 ms; the SVHN and CIFAR-10 shapes
  // (co 64 … 512) 3–12 % faster, the same bits (each dW entry is summed in the same order either way).
  const bool transposed = K > co;
  Scratch& s = scratch();
  if (transposed) s.wt.resize(co * K);
  for_patch_tiles(g, x, [&](const float* patches, size_t r0, size_t r1) {
    if (transposed) sgemm(true, false, co, K, r1 - r0, dy + r0 * co, co, patches, K, s.wt.data(), K, r0 > 0, 0);
    else sgemm(true, false, K, co, r1 - r0, patches, K, dy + r0 * co, co, dw, co, r0 > 0, 0);
  });
  if (transposed)
    for (size_t k = 0; k < K; k++)
      for (size_t o = 0; o < co; o++) dw[k * co + o] = s.wt[o * K + k];
}

Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  conv2d_backprop_filter(parse_conv2d_backprop_filter(info));
  return info.Env().Undefined();
}

struct Conv2dBackpropInputArgs {
  const float* dy;      // (N,Ho,Wo,Co)
  const float* filter;  // (kh,kw,Ci,Co) = (K,Co)
  float* dx;            // (N,H,W,Ci)
  ConvGeom g;
};

// conv2dBackpropInput({ dy, filter, dx, ...conv2d's geometry })
Conv2dBackpropInputArgs parse_conv2d_backprop_input(const Napi::CallbackInfo& info) {
  const Fields f(info, "conv2dBackpropInput", {"dy", "filter", "dx"}, kConvGeomKeys);
  Conv2dBackpropInputArgs p{};
  p.g = conv_geom(f);
  const ConvGeom& g = p.g;
  p.dy = f.floats("dy", g.rows() * g.co);
  p.filter = f.floats("filter", g.K() * g.co);
  p.dx = f.floats("dx", g.n * g.h * g.w * g.ci);
  return p;
}

// dx (N,H,W,Ci): the column gradient dy (rows,Co) · filter (K,Co)ᵀ (sgemm), tiled by whole images, gathered
// into dx (each input pixel sums the taps that read it: no write conflicts).
void conv2d_backprop_input(const Conv2dBackpropInputArgs& p) {
  const ConvGeom& g = p.g;
  const float *dy = p.dy, *w = p.filter;
  float* dx = p.dx;
  const size_t K = g.K(), ci = g.ci, img_rows = g.ho * g.wo;
  if (g.pointwise()) {
    sgemm(false, true, g.rows(), K, g.co, dy, g.co, w, g.co, dx, K, false, 0);
    return;
  }
  const size_t imgs = std::min(g.n, tile_rows(img_rows * K * sizeof(float)));
  Scratch& s = scratch();
  auto& cols = s.cols;
  if (cols.size() < imgs * img_rows * K) cols.resize(imgs * img_rows * K);
  // The filter transposed once, (Co,K): read as filterᵀ in place, every tile's product would transpose
  // it again into its packed panels, for each block of rows, a copy as long as a third of the arithmetic
  // at Co = 64. The same products, in the same order: the same bits.
  s.wt.resize(g.co * K);
  for (size_t k = 0; k < K; k++)
    for (size_t o = 0; o < g.co; o++) s.wt[o * K + k] = w[k * g.co + o];
  for (size_t n0 = 0; n0 < g.n; n0 += imgs) {
    const size_t nt = std::min(g.n - n0, imgs);
    sgemm(false, false, nt * img_rows, K, g.co, dy + n0 * img_rows * g.co, g.co, s.wt.data(), K, cols.data(), K,
          false, 0);
    parallel_for(nt * g.h, 1, threads_for_elements(double(nt) * g.h * g.w * ci * g.taps()), [&](size_t lo, size_t hi) {
      // Taps (i, output row) that read input row y, then (j, output column) for each column.
      std::vector<std::pair<size_t, size_t>> ti, tj;
      for (size_t q = lo; q < hi; q++) {
        const size_t nl = q / g.h, y = q % g.h;
        ti.clear();
        for (size_t i = 0; i < g.kh; i++) {
          const ptrdiff_t t = ptrdiff_t(y + g.top) - ptrdiff_t(i);
          if (t >= 0 && t % ptrdiff_t(g.sh) == 0 && size_t(t) / g.sh < g.ho) ti.emplace_back(i, size_t(t) / g.sh);
        }
        for (size_t xx = 0; xx < g.w; xx++) {
          float* __restrict o = dx + (((n0 + nl) * g.h + y) * g.w + xx) * ci;
          std::fill(o, o + ci, 0.f);
          tj.clear();
          for (size_t j = 0; j < g.kw; j++) {
            const ptrdiff_t t = ptrdiff_t(xx + g.left) - ptrdiff_t(j);
            if (t >= 0 && t % ptrdiff_t(g.sw) == 0 && size_t(t) / g.sw < g.wo) tj.emplace_back(j, size_t(t) / g.sw);
          }
          for (const auto& [i, oy] : ti)
            for (const auto& [j, ox] : tj) {
              const float* __restrict src = cols.data() + ((nl * g.ho + oy) * g.wo + ox) * K + (i * g.kw + j) * ci;
              for (size_t c = 0; c < ci; c++) o[c] += src[c];
            }
        }
      }
    });
  }
}

Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  conv2d_backprop_input(parse_conv2d_backprop_input(info));
  return info.Env().Undefined();
}

}  // namespace

void register_conv_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2dBackpropFilter));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2dBackpropInput));
}

}  // namespace bnn
