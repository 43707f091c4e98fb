#include "fused_gelu.hpp"

#include <stdexcept>
#include <type_traits>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "gelu_kernels.hpp"
#include "kernel_isa.hpp"
#include "stars/kernels/composed_ops.hpp"

namespace stars::kernels {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename T>
GeluSecondDerivativeKernel<T> second_derivative_kernel() {
#ifdef STARS_KERNELS_X86_64_V3
  if (wide_kernels_allowed()) return STARS_KERNEL_ENTRY(T, x86_64_v3, gelu_second_derivative);
#endif
  return STARS_KERNEL_ENTRY(T, generic, gelu_second_derivative);
}

/// gy · g · gelu''(a), element-wise over contiguous tensors of one shape.
Tensor second_derivative_term(const Tensor& gy, const Tensor& g, const Tensor& a) {
  auto out = torch::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "stars_gelu_second_derivative", [&] {
    const auto kernel = second_derivative_kernel<scalar_t>();
    const scalar_t *pgy = gy.data_ptr<scalar_t>(), *pg = g.data_ptr<scalar_t>(),
                   *pa = a.data_ptr<scalar_t>();
    scalar_t* po = out.data_ptr<scalar_t>();
    at::parallel_for(0, a.numel(), /*grain_size=*/32768, [&](std::int64_t begin, std::int64_t end) {
      kernel(pgy + begin, pg + begin, pa + begin, po + begin, end - begin);
    });
  });
  return out;
}

/// (g, a) -> g · gelu'(a): GELU's backward as a differentiable function.
class GeluBackward : public torch::autograd::Function<GeluBackward> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& g, const Tensor& a) {
    ctx->save_for_backward({g, a});
    return at::gelu_backward(g, a);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (torch::GradMode::is_enabled())
      throw std::logic_error(
          "fused gelu: a graph of the double backward (for a third derivative) was requested; "
          "compute it under ComposedOpsGuard, which uses torch::gelu");
    const auto s = ctx->get_saved_variables();
    const Tensor gy = grads[0].contiguous();
    Tensor gg, ga;
    if (ctx->needs_input_grad(0)) gg = at::gelu_backward(gy, s[1]);  // d/dg: gy · gelu'(a)
    if (ctx->needs_input_grad(1)) ga = second_derivative_term(gy, s[0], s[1]);
    return {gg, ga};
  }
};

class FusedGelu : public torch::autograd::Function<FusedGelu> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& x) {
    ctx->save_for_backward({x});
    return at::gelu(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    return {GeluBackward::apply(grads[0].contiguous(), s[0])};
  }
};

}  // namespace

bool fused_gelu_supports(const torch::Tensor& x) {
  const auto type = x.scalar_type();
  return x.device().is_cpu() && (type == torch::kFloat || type == torch::kDouble);
}

torch::Tensor fused_gelu(const torch::Tensor& x) {
  TORCH_CHECK(fused_gelu_supports(x), "fused gelu: needs a CPU float or double tensor, got ",
              x.dtype(), " on ", x.device());
  return FusedGelu::apply(x.contiguous());
}

torch::Tensor gelu(const torch::Tensor& x) {
  if (fused_gelu_supports(x) && !ComposedOpsGuard::active()) return fused_gelu(x);
  return torch::gelu(x);
}

}  // namespace stars::kernels
