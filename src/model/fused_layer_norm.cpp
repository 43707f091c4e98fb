#include "fused_layer_norm.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace stars::detail {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Per-row pointers of the double backward. Inputs: x, dy (rows of D), mean and rstd (one
/// per row), w (D); cotangents of the backward's outputs: gdx (rows, may be null), gdw and
/// gdb (D, may be null). Outputs: gx, gdy and this row's share of gw (rows of D).
template <typename T>
struct RowArgs {
  const T *x, *dy, *w, *gdx, *gdw, *gdb;
  T mean, r;
  T *gx, *gdy, *gw;
};

/// The VJP of dx = r (g - mean(g) - x̂ mean(g x̂)), dw = Σ dy x̂, db = Σ dy with g = dy w and
/// x̂ = (x - mean) r, for one row; each block differentiates one equation, the last first.
template <typename T>
void row_double_backward(const RowArgs<T>& a, std::int64_t D) {
  const T inv_d = T(1) / static_cast<T>(D);
  T mean_g = 0, mean_gx = 0;  // a = mean(g), c = mean(g x̂)
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (a.x[i] - a.mean) * a.r, g = a.dy[i] * a.w[i];
    mean_g += g;
    mean_gx += g * xh;
  }
  mean_g *= inv_d, mean_gx *= inv_d;
  // Sums over the row of the dx cotangent G: Σ G (g - a - x̂ c), Σ G, Σ G x̂.
  T g_r = 0, sum_G = 0, sum_Gx = 0;
  if (a.gdx)
    for (std::int64_t i = 0; i < D; ++i) {
      const T xh = (a.x[i] - a.mean) * a.r, g = a.dy[i] * a.w[i];
      g_r += a.gdx[i] * (g - mean_g - xh * mean_gx);
      sum_G += a.gdx[i];
      sum_Gx += a.gdx[i] * xh;
    }
  const T g_a = -a.r * sum_G, g_c = -a.r * sum_Gx;
  T mean_gxh = 0, mean_gxh_xh = 0;  // of the x̂ cotangent, for x̂'s own backward
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (a.x[i] - a.mean) * a.r, g = a.dy[i] * a.w[i];
    const T G = a.gdx ? a.gdx[i] : T(0);
    // dx = r (g - a - x̂ c), with a = mean(g) and c = mean(g x̂)
    const T g_g = a.r * G + (g_c * xh + g_a) * inv_d;
    T g_xh = -a.r * G * mean_gx + g_c * g * inv_d;
    // dw = Σ dy x̂, db = Σ dy; then g = dy w
    T g_dy = (a.gdb ? a.gdb[i] : T(0)) + g_g * a.w[i];
    if (a.gdw) {
      g_dy += a.gdw[i] * xh;
      g_xh += a.gdw[i] * a.dy[i];
    }
    a.gdy[i] = g_dy;
    a.gw[i] = g_g * a.dy[i];
    a.gx[i] = g_xh;  // x̂'s cotangent for now
    mean_gxh += g_xh;
    mean_gxh_xh += g_xh * xh;
  }
  mean_gxh *= inv_d, mean_gxh_xh *= inv_d;
  // x̂ = (x - mean) r through layer norm's backward, plus r = (var + eps)^(-1/2) itself.
  for (std::int64_t i = 0; i < D; ++i) {
    const T xh = (a.x[i] - a.mean) * a.r;
    a.gx[i] = a.r * (a.gx[i] - mean_gxh - xh * mean_gxh_xh) - g_r * a.r * a.r * xh * inv_d;
  }
}

/// (gx, gw, gdy) for cotangents (gdx, gdw, gdb) of layer norm's backward.
std::tuple<Tensor, Tensor, Tensor> double_backward(const Tensor& x, const Tensor& w,
                                                   const Tensor& dy, const Tensor& mean,
                                                   const Tensor& rstd, const Tensor& gdx,
                                                   const Tensor& gdw, const Tensor& gdb) {
  const auto D = x.size(-1), rows = x.numel() / D;
  auto gx = torch::empty_like(x), gdy = torch::empty_like(x), gw_rows = torch::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stars_layer_norm_double_backward", [&] {
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr<scalar_t>() : nullptr; };
    at::parallel_for(0, rows, /*grain_size=*/16, [&](std::int64_t begin, std::int64_t end) {
      for (auto m = begin; m < end; ++m) {
        const auto off = m * D;
        const auto at = [&](scalar_t* p) { return p ? p + off : nullptr; };
        RowArgs<scalar_t> a{x.data_ptr<scalar_t>() + off,
                            dy.data_ptr<scalar_t>() + off,
                            w.data_ptr<scalar_t>(),
                            at(ptr(gdx)),
                            ptr(gdw),
                            ptr(gdb),
                            mean.data_ptr<scalar_t>()[m],
                            rstd.data_ptr<scalar_t>()[m],
                            gx.data_ptr<scalar_t>() + off,
                            gdy.data_ptr<scalar_t>() + off,
                            gw_rows.data_ptr<scalar_t>() + off};
        row_double_backward(a, D);
      }
    });
  });
  return {gx, gw_rows.reshape({rows, D}).sum(0), gdy};
}

Tensor contiguous_or_undefined(const Tensor& t) {
  return t.defined() ? t.contiguous() : t;
}

/// (x, weight, dy, mean, rstd) -> (dx, dweight, dbias): layer norm's backward as a
/// differentiable function.
class LayerNormBackward : public torch::autograd::Function<LayerNormBackward> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                               const Tensor& dy, const Tensor& mean, const Tensor& rstd) {
    ctx->save_for_backward({x, weight, dy, mean, rstd});
    // The bias argument only gives dbias its shape, which is weight's.
    auto [dx, dw, db] = at::native_layer_norm_backward(dy, x, {x.size(-1)}, mean, rstd, weight,
                                                       weight, {true, true, true});
    return {dx, dw, db};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    if (torch::GradMode::is_enabled())
      throw std::logic_error(
          "fused layer norm: a graph of the double backward (for a third derivative) was "
          "requested; compute it under ComposedOpsGuard, whose composed layer norm has one");
    auto [gx, gw, gdy] =
        double_backward(s[0], s[1], s[2], s[3], s[4], contiguous_or_undefined(grads[0]),
                        contiguous_or_undefined(grads[1]), contiguous_or_undefined(grads[2]));
    return {gx, gw, gdy, Tensor(), Tensor()};
  }
};

class FusedLayerNorm : public torch::autograd::Function<FusedLayerNorm> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                               const Tensor& bias, double eps) {
    auto [y, mean, rstd] = at::native_layer_norm(x, {x.size(-1)}, weight, bias, eps);
    ctx->save_for_backward({x, weight, mean, rstd});
    return {y};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    auto g = LayerNormBackward::apply(s[0], s[1], grads[0].contiguous(), s[2], s[3]);
    return {g[0], g[1], g[2], Tensor()};
  }
};

}  // namespace

bool fused_layer_norm_supports(const torch::Tensor& x) {
  const auto type = x.scalar_type();
  return x.device().is_cpu() && (type == torch::kFloat || type == torch::kDouble);
}

torch::Tensor fused_layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, double eps) {
  return FusedLayerNorm::apply(x.contiguous(), weight, bias, eps)[0];
}

}  // namespace stars::detail
