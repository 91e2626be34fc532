// Native max-pool and its gradient for training, on Float32Array views of the wasm heap like
// train_ops.cc (registered by lib/tfjs/nativeConvKernels.ts). NHWC; both follow tfjs's cpu backend
// (a value wins only if strictly greater, NaN never does; the gradient goes to the first maximum).
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "napi_args.h"
#include "parallel.h"
#include "register.h"
#include "simd_clones.h"

namespace bnn {
namespace {

// NHWC; windows of fh × fw taps, strides sh, sw, the first window starting at (−top, −left).
struct PoolGeom {
  size_t n, h, w, c, fh, fw, sh, sw, top, left, ho, wo;
};

// The geometry fields of maxPool and maxPoolGrad, in PoolGeom's order.
constexpr const char* kPoolGeomKeys[] = {"n", "h", "w", "channels", "filterHeight", "filterWidth",
                                         "strideHeight", "strideWidth", "padTop", "padLeft", "outHeight", "outWidth"};

// Every size is checked to fit in memory arithmetic; windows are clipped to the input, so no value of the
// pads or output size can read out of bounds.
PoolGeom pool_geom(const Fields& f) {
  const Napi::Env env = f.env();
  constexpr uint64_t kDim = 1u << 24;
  size_t v[12];
  for (size_t i = 0; i < 12; i++) v[i] = f.count(kPoolGeomKeys[i], kDim);
  const PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
  if (g.fh == 0 || g.fw == 0 || g.sh == 0 || g.sw == 0)
    throw Napi::RangeError::New(env, "filter size and strides must be ≥ 1");
  checked_mul(env, checked_mul(env, checked_mul(env, g.n, g.h, "n·h"), g.w, "n·h·w"), g.c, "n·h·w·channels");
  checked_mul(env, checked_mul(env, checked_mul(env, g.n, g.ho, "n·outH"), g.wo, "n·outH·outW"), g.c,
              "n·outH·outW·channels");
  return g;
}

// The window of output (oy, ox), clipped to the input: rows [y0, y1), columns [x0, x1).
struct PoolWindow {
  size_t y0, y1, x0, x1;
};
inline PoolWindow pool_window(const PoolGeom& g, size_t oy, size_t ox) {
  const ptrdiff_t y = ptrdiff_t(oy * g.sh) - ptrdiff_t(g.top), x = ptrdiff_t(ox * g.sw) - ptrdiff_t(g.left);
  const auto clip = [](ptrdiff_t v, size_t hi) { return size_t(std::clamp<ptrdiff_t>(v, 0, ptrdiff_t(hi))); };
  return {clip(y, g.h), clip(y + ptrdiff_t(g.fh), g.h), clip(x, g.w), clip(x + ptrdiff_t(g.fw), g.w)};
}

// Output row q = (b, oy) of the max-pool.
BNN_SIMD_CLONES void max_pool_row(const PoolGeom& g, const float* x, float* out, size_t q) {
  const size_t b = q / g.ho, oy = q % g.ho, c = g.c;
  for (size_t ox = 0; ox < g.wo; ox++) {
    const PoolWindow pw = pool_window(g, oy, ox);
    float* o = out + (q * g.wo + ox) * c;
    std::fill(o, o + c, -std::numeric_limits<float>::infinity());
    for (size_t y = pw.y0; y < pw.y1; y++)
      for (size_t xx = pw.x0; xx < pw.x1; xx++) {
        const float* v = x + ((b * g.h + y) * g.w + xx) * c;
        for (size_t k = 0; k < c; k++) o[k] = v[k] > o[k] ? v[k] : o[k];
      }
  }
}

struct MaxPoolArgs {
  const float* x;  // (N,H,W,C)
  float* out;      // (N,Ho,Wo,C)
  PoolGeom g;
};

// maxPool({ x, out, n, h, w, channels, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft,
//           outHeight, outWidth })
MaxPoolArgs parse_max_pool(const Napi::CallbackInfo& info) {
  const Fields f(info, "maxPool", {"x", "out"}, kPoolGeomKeys);
  MaxPoolArgs p{};
  p.g = pool_geom(f);
  const PoolGeom& g = p.g;
  p.x = f.floats("x", g.n * g.h * g.w * g.c);
  p.out = f.floats("out", g.n * g.ho * g.wo * g.c);
  return p;
}

// out (N,Ho,Wo,C) = max over each window's input values, as tfjs's cpu backend: a value wins only if
// greater (NaN never does), an empty window gives −∞.
void max_pool(const MaxPoolArgs& p) {
  const PoolGeom& g = p.g;
  const float* x = p.x;
  float* out = p.out;
  const size_t c = g.c;
  parallel_for(g.n * g.ho, 1, threads_for_elements(double(g.n) * g.h * g.w * c), [&](size_t lo, size_t hi) {
    for (size_t q = lo; q < hi; q++) max_pool_row(g, x, out, q);
  });
}

Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  max_pool(parse_max_pool(info));
  return info.Env().Undefined();
}

// One output row's windows of image b: the first maximal input of each window (the max, then
// the first tap equal to it, as float selects that vectorize) gets the window's dy.
BNN_SIMD_CLONES void max_pool_grad_row(const PoolGeom& g, const float* dy, const float* x, float* dx, size_t b,
                                       size_t oy) {
  constexpr size_t kBlock = 64;
  constexpr float kLow = -std::numeric_limits<float>::infinity();
  const size_t c = g.c, image = g.h * g.w * c;
  float m[kBlock], rem[kBlock];
  for (size_t ox = 0; ox < g.wo; ox++) {
    const PoolWindow pw = pool_window(g, oy, ox);
    const float* d = dy + ((b * g.ho + oy) * g.wo + ox) * c;
    for (size_t k0 = 0; k0 < c; k0 += kBlock) {
      const size_t kn = std::min(kBlock, c - k0);
      for (size_t k = 0; k < kn; k++) m[k] = kLow;
      for (size_t y = pw.y0; y < pw.y1; y++)
        for (size_t xx = pw.x0; xx < pw.x1; xx++) {
          const float* v = x + b * image + (y * g.w + xx) * c + k0;
          for (size_t k = 0; k < kn; k++) m[k] = v[k] > m[k] ? v[k] : m[k];
        }
      // A window without a maximum (all NaN or −∞, or empty) passes no gradient.
      for (size_t k = 0; k < kn; k++) rem[k] = m[k] > kLow ? d[k0 + k] : 0.f;
      for (size_t y = pw.y0; y < pw.y1; y++)
        for (size_t xx = pw.x0; xx < pw.x1; xx++) {
          const float* v = x + b * image + (y * g.w + xx) * c + k0;
          float* o = dx + b * image + (y * g.w + xx) * c + k0;
          for (size_t k = 0; k < kn; k++) {
            const bool hit = v[k] == m[k];
            o[k] += hit ? rem[k] : 0.f;
            rem[k] = hit ? 0.f : rem[k];
          }
        }
    }
  }
}

struct MaxPoolGradArgs {
  const float* dy;  // (N,Ho,Wo,C)
  const float* x;   // (N,H,W,C), the pool's input
  float* dx;        // (N,H,W,C)
  PoolGeom g;
};

// maxPoolGrad({ dy, x, dx, ...maxPool's geometry })
MaxPoolGradArgs parse_max_pool_grad(const Napi::CallbackInfo& info) {
  const Fields f(info, "maxPoolGrad", {"dy", "x", "dx"}, kPoolGeomKeys);
  MaxPoolGradArgs p{};
  p.g = pool_geom(f);
  const PoolGeom& g = p.g;
  p.dy = f.floats("dy", g.n * g.ho * g.wo * g.c);
  p.x = f.floats("x", g.n * g.h * g.w * g.c);
  p.dx = f.floats("dx", g.n * g.h * g.w * g.c);
  return p;
}

// dx (N,H,W,C): each window's gradient goes to its first maximal input in row-major scan order (strictly
// greater wins, as tfjs's cpu backend); a window without one (all NaN or −∞, or empty) passes none.
void max_pool_grad(const MaxPoolGradArgs& p) {
  const PoolGeom& g = p.g;
  const float *dy = p.dy, *x = p.x;
  float* dx = p.dx;
  const size_t c = g.c, image = g.h * g.w * c;
  parallel_for(g.n * image, 4096, threads_for_elements(double(g.n) * image),
               [&](size_t lo, size_t hi) { std::fill(dx + lo, dx + hi, 0.f); });
  // Disjoint windows write disjoint inputs, so output rows can go to different threads; overlapping
  // ones are split by image.
  const bool disjoint = g.sh >= g.fh && g.sw >= g.fw;
  const size_t units = disjoint ? g.n * g.ho : g.n, rows_per_unit = disjoint ? 1 : g.ho;
  parallel_for(units, 1, threads_for_elements(double(g.n) * g.h * g.w * c * 2), [&](size_t lo, size_t hi) {
    for (size_t u = lo; u < hi; u++) {
      const size_t b = disjoint ? u / g.ho : u, oy0 = disjoint ? u % g.ho : 0;
      for (size_t oy = oy0; oy < oy0 + rows_per_unit; oy++) max_pool_grad_row(g, dy, x, dx, b, oy);
    }
  });
}

Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  max_pool_grad(parse_max_pool_grad(info));
  return info.Env().Undefined();
}

}  // namespace

void register_pool_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
}

}  // namespace bnn
