#pragma once
// Autograd for a GEMM given as a function: a @ b (+ bias), whose backward is made of the
// same GEMM, so that derivatives of any order (the penalty differentiates the backward once
// more) run on it. Shared by oneDNN's float32 sgemm (linear.cpp) and its bf16 matmul
// (onednn_bf16.cpp).
#include <torch/torch.h>

namespace stars::kernels {

/// (a (M, K), b (K, N), bias (N) or undefined) -> a b + bias as a new (M, N) tensor; either
/// operand may be a transposed view.
using GemmProduct = torch::Tensor (*)(const torch::Tensor& a, const torch::Tensor& b,
                                      const torch::Tensor& bias);

template <GemmProduct Product>
class GemmMatmul : public torch::autograd::Function<GemmMatmul<Product>> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    return Product(a, b, torch::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const torch::Tensor& g = grads[0];
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0)) ga = GemmMatmul::apply(g, s[1].t());
    if (ctx->needs_input_grad(1)) gb = GemmMatmul::apply(s[0].t(), g);
    return {ga, gb};
  }
};

/// x (M, in) @ weight (out, in)ᵀ + bias, the bias added by the product itself.
template <GemmProduct Product>
class GemmLinear : public torch::autograd::Function<GemmLinear<Product>> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return Product(x, weight.t(), bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const torch::Tensor& g = grads[0];
    torch::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = GemmMatmul<Product>::apply(g, s[1]);
    if (ctx->needs_input_grad(1)) gw = GemmMatmul<Product>::apply(g.t(), s[0]);
    if (ctx->needs_input_grad(2)) gb = g.sum(0);
    return {gx, gw, gb};
  }
};

/// x (..., in) @ weight (out, in)ᵀ + bias (may be undefined) through Product.
template <GemmProduct Product>
torch::Tensor gemm_linear(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias) {
  auto shape = x.sizes().vec();
  shape.back() = weight.size(0);
  const torch::Tensor x2 = x.reshape({-1, x.size(-1)});
  // A custom autograd function cannot take an undefined tensor: without a bias, a product.
  const torch::Tensor y = bias.defined() ? GemmLinear<Product>::apply(x2, weight, bias)
                                         : GemmMatmul<Product>::apply(x2, weight.t());
  return y.view(shape);
}

}  // namespace stars::kernels
