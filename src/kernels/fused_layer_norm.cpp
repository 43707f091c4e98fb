#include "fused_layer_norm.hpp"

#include <algorithm>
#include <type_traits>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "kernel_isa.hpp"
#include "layer_norm_kernels.hpp"
#include "stars/kernels/composed_ops.hpp"

namespace stars::kernels {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename T>
LayerNormDoubleBackwardKernel<T> double_backward_kernel() {
#ifdef STARS_KERNELS_X86_64_V3
  if (wide_kernels_allowed()) return STARS_KERNEL_ENTRY(T, x86_64_v3, layer_norm_double_backward);
#endif
  return STARS_KERNEL_ENTRY(T, generic, layer_norm_double_backward);
}

/// (gx, gw, gdy) for cotangents (gdx, gdw, gdb) of layer norm's backward.
std::tuple<Tensor, Tensor, Tensor> double_backward(const Tensor& x, const Tensor& w,
                                                   const Tensor& dy, const Tensor& mean,
                                                   const Tensor& rstd, const Tensor& gdx,
                                                   const Tensor& gdw, const Tensor& gdb) {
  const auto D = x.size(-1), rows = x.numel() / D;
  // The weight's cotangent is summed per block of kBlockRows rows, then over the blocks: the
  // same order for any thread count, and no (rows x D) buffer to write and read back.
  constexpr std::int64_t kBlockRows = 64;
  const auto blocks = std::max<std::int64_t>(1, (rows + kBlockRows - 1) / kBlockRows);
  auto gx = torch::empty_like(x), gdy = torch::empty_like(x);
  auto gw_blocks = torch::zeros({blocks, D}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stars_layer_norm_double_backward", [&] {
    auto ptr = [](const Tensor& t) { return t.data_ptr<scalar_t>(); };
    const LayerNormRows<scalar_t> all{ptr(x),    ptr(dy),   ptr(w),  ptr(gdx), ptr(gdw), ptr(gdb),
                                      ptr(mean), ptr(rstd), ptr(gx), ptr(gdy), nullptr,  D};
    const auto kernel = double_backward_kernel<scalar_t>();
    at::parallel_for(0, blocks, /*grain_size=*/1, [&](std::int64_t begin, std::int64_t end) {
      for (auto b = begin; b < end; ++b) {
        auto block = all;
        block.gw = ptr(gw_blocks) + b * D;
        kernel(block, b * kBlockRows, std::min(rows, (b + 1) * kBlockRows));
      }
    });
  });
  return {gx, gw_blocks.sum(0), gdy};
}

/// A cotangent as the kernel takes it: contiguous, zeros where autograd passed none.
Tensor contiguous_or_zeros(const Tensor& t, const Tensor& like) {
  return t.defined() ? t.contiguous() : torch::zeros_like(like);
}

/// (x, weight, dy, mean, rstd) -> (dx, dweight, dbias): layer norm's backward as a
/// differentiable function.
class LayerNormBackward : public torch::autograd::Function<LayerNormBackward> {
 public:
  /// weight_grads: whether dweight and dbias are wanted; a VJP with respect to the input
  /// (the penalty's) skips their reductions over all rows and gets zeros.
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                               const Tensor& dy, const Tensor& mean, const Tensor& rstd,
                               bool weight_grads) {
    ctx->save_for_backward({x, weight, dy, mean, rstd});
    // The bias argument only gives dbias its shape, which is weight's.
    auto [dx, dw, db] = at::native_layer_norm_backward(dy, x, {x.size(-1)}, mean, rstd, weight,
                                                       weight, {true, weight_grads, weight_grads});
    if (!weight_grads) dw = torch::zeros_like(weight), db = torch::zeros_like(weight);
    return {dx, dw, db};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    if (torch::GradMode::is_enabled())
      throw std::logic_error(
          "fused layer norm: a graph of the double backward (for a third derivative) was "
          "requested; compute it under ComposedOpsGuard, whose composed layer norm has one");
    auto [gx, gw, gdy] =
        double_backward(s[0], s[1], s[2], s[3], s[4], contiguous_or_zeros(grads[0], s[0]),
                        contiguous_or_zeros(grads[1], s[1]), contiguous_or_zeros(grads[2], s[1]));
    return {gx, gw, gdy, Tensor(), Tensor(), Tensor()};
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
    const bool weight_grads = ctx->needs_input_grad(1) || ctx->needs_input_grad(2);
    auto g = LayerNormBackward::apply(s[0], s[1], grads[0].contiguous(), s[2], s[3], weight_grads);
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

namespace {

/// Layer norm from elementary ops: every derivative order is exact.
torch::Tensor composed_layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                                  const torch::Tensor& bias, double eps) {
  auto centered = x - x.mean(-1, /*keepdim=*/true);
  auto y = centered * torch::rsqrt(centered.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

}  // namespace

torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps) {
  if (ComposedOpsGuard::active()) return composed_layer_norm(x, weight, bias, eps);
  if (weight.defined() && bias.defined() && fused_layer_norm_supports(x))
    return fused_layer_norm(x, weight, bias, eps);
  return torch::layer_norm(x, {x.size(-1)}, weight, bias, eps);
}

}  // namespace stars::kernels
