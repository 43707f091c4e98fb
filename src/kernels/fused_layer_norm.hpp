#pragma once
// Layer norm whose double backward is one CPU kernel. LibTorch's layer_norm is fused for the
// forward and backward, but its double backward (which the VJP penalty runs on every step)
// is a chain of ~25 element-wise ops; here the forward and backward call the same LibTorch
// kernels and only the double backward is replaced, by an analytic per-row kernel.
#include <torch/types.h>

namespace stars::kernels {

/// True when fused_layer_norm applies: a CPU float or double tensor.
bool fused_layer_norm_supports(const torch::Tensor& x);

/// Layer norm over the last dimension, with weight and bias (both defined, shape (D)).
/// Differentiable twice through the fused kernels; asking for a third derivative is an
/// error (ComposedOpsGuard selects the composed form, which has every order).
torch::Tensor fused_layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, double eps);

/// The layer norm the model runs, over the last dimension (weight and bias may be undefined:
/// no affine part): composed from elementary ops under ComposedOpsGuard, fused where
/// fused_layer_norm applies, else LibTorch's.
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, double eps);

}  // namespace stars::kernels
