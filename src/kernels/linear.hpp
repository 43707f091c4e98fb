#pragma once
// The model's linear layers, computed with the GEMM that cpu_gemm() selects.
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

namespace stars::kernels {

/// layer(x) for x of shape (..., in): in bf16 when matmul_precision() is bf16
/// (stars/kernels/precision.hpp), else oneDNN's sgemm for CPU float32 tensors when
/// cpu_gemm() is onednn (differentiable to any order, as torch::linear is), else
/// torch::linear.
torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer);

/// x (..., in) @ weight (out, in)ᵀ without a bias (the tied output head): in bf16 when
/// matmul_precision() is bf16, else torch::matmul.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight);

/// a (M, K) @ b (K, N) through oneDNN's sgemm, differentiable to any order; either operand
/// may be a transposed view. Requires onednn_gemm_available() and CPU float32 operands.
torch::Tensor onednn_matmul(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace stars::kernels
