#pragma once
// Linear layers in bf16 through oneDNN's matmul: both operands rounded to bfloat16, the
// product accumulated and written in float32 with the bias added inside the GEMM, so that
// the float32 model around it needs no cast of the output and no separate bias pass.
// Available where stars is built with oneDNN (STARS_WITH_ONEDNN); without it,
// onednn_bf16_takes is false and onednn_bf16_linear throws.
#include <torch/types.h>

namespace stars::kernels {

/// Whether x is an input this path runs: a CPU float32 tensor, in a build with oneDNN.
bool onednn_bf16_takes(const torch::Tensor& x);

/// x (..., in) @ weight (out, in)ᵀ + bias (out; may be undefined) with bf16 products,
/// differentiable to any order: the backward is made of the same bf16 products.
torch::Tensor onednn_bf16_linear(const torch::Tensor& x, const torch::Tensor& weight,
                                 const torch::Tensor& bias);

}  // namespace stars::kernels
