// Layer norm's double backward, row by row. Compiled once per ISA (see
// layer_norm_kernels.hpp); only stars' kernel headers and the C library may be included here.
#include "layer_norm_kernels.hpp"

#include <cstdint>

#ifndef STARS_KERNEL_ISA
#define STARS_KERNEL_ISA generic
#endif

namespace stars::kernels::STARS_KERNEL_ISA {
namespace {

/// One row's pointers (row m of LayerNormRows) and its mean and inverse deviation.
template <typename T>
struct RowArgs {
  const T *x, *dy, *w, *gdx, *gdw, *gdb;
  T mean, r;
  T *gx, *gdy, *gw;
};

/// The VJP of dx = r (g - mean(g) - x̂ mean(g x̂)), dw = Σ dy x̂, db = Σ dy with g = dy w and
/// x̂ = (x - mean) r, for one row; each block differentiates one equation, the last first.
template <typename T>
void row_double_backward(const RowArgs<T>& args, std::int64_t D) {
  // Locals, not members: GCC vectorises no loop that reads its arrays through the struct.
  const T *x = args.x, *dy = args.dy, *w = args.w, *gdx = args.gdx, *gdw = args.gdw,
          *gdb = args.gdb;
  T *gx = args.gx, *gdy = args.gdy, *gw = args.gw;
  const T mean = args.mean, r = args.r;
  const T inv_d = T(1) / static_cast<T>(D);
  T mean_g = 0, mean_gx = 0;  // a = mean(g), c = mean(g x̂)
#pragma omp simd reduction(+ : mean_g, mean_gx)
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (x[i] - mean) * r, g = dy[i] * w[i];
    mean_g += g;
    mean_gx += g * xh;
  }
  mean_g *= inv_d, mean_gx *= inv_d;
  // Sums over the row of the dx cotangent G: Σ G (g - a - x̂ c), Σ G, Σ G x̂.
  T g_r = 0, sum_G = 0, sum_Gx = 0;
#pragma omp simd reduction(+ : g_r, sum_G, sum_Gx)
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (x[i] - mean) * r, g = dy[i] * w[i];
    g_r += gdx[i] * (g - mean_g - xh * mean_gx);
    sum_G += gdx[i];
    sum_Gx += gdx[i] * xh;
  }
  const T g_a = -r * sum_G, g_c = -r * sum_Gx;
  T mean_gxh = 0, mean_gxh_xh = 0;  // of the x̂ cotangent, for x̂'s own backward
#pragma omp simd reduction(+ : mean_gxh, mean_gxh_xh)
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (x[i] - mean) * r, g = dy[i] * w[i];
    const T G = gdx[i];
    // dx = r (g - a - x̂ c), with a = mean(g) and c = mean(g x̂)
    const T g_g = r * G + (g_c * xh + g_a) * inv_d;
    T g_xh = -r * G * mean_gx + g_c * g * inv_d;
    // dw = Σ dy x̂, db = Σ dy; then g = dy w
    gdy[i] = gdb[i] + g_g * w[i] + gdw[i] * xh;
    g_xh += gdw[i] * dy[i];
    gw[i] += g_g * dy[i];
    gx[i] = g_xh;  // x̂'s cotangent for now
    mean_gxh += g_xh;
    mean_gxh_xh += g_xh * xh;
  }
  mean_gxh *= inv_d, mean_gxh_xh *= inv_d;
  // x̂ = (x - mean) r through layer norm's backward, plus r = (var + eps)^(-1/2) itself.
#pragma omp simd
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (x[i] - mean) * r;
    gx[i] = r * (gx[i] - mean_gxh - xh * mean_gxh_xh) - g_r * r * r * xh * inv_d;
  }
}

template <typename T>
void double_backward_rows(const LayerNormRows<T>& t, std::int64_t begin, std::int64_t end) {
  const auto D = t.D;
  for (auto m = begin; m < end; ++m) {
    const auto off = m * D;
    const RowArgs<T> a{t.x + off, t.dy + off, t.w,        t.gdx + off, t.gdw, t.gdb,
                       t.mean[m], t.rstd[m],  t.gx + off, t.gdy + off, t.gw};
    row_double_backward(a, D);
  }
}

}  // namespace

void layer_norm_double_backward_f32(const LayerNormRows<float>& t, std::int64_t begin,
                                    std::int64_t end) {
  double_backward_rows(t, begin, end);
}
void layer_norm_double_backward_f64(const LayerNormRows<double>& t, std::int64_t begin,
                                    std::int64_t end) {
  double_backward_rows(t, begin, end);
}

}  // namespace stars::kernels::STARS_KERNEL_ISA
