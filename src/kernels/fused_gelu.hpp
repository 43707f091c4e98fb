#pragma once
// GELU (exact, erf form) whose double backward is one fused pass: the Jacobian penalty
// differentiates a VJP through every MLP, and LibTorch 1.13 composes GELU's double backward
// from about ten element-wise ops over the hidden activations.
#include <torch/types.h>

namespace stars::kernels {

/// True for CPU float and double tensors.
bool fused_gelu_supports(const torch::Tensor& x);

/// gelu(x), differentiable twice; a graph of the double backward (a third derivative) is
/// refused with an error naming ComposedOpsGuard, under which the model uses torch::gelu.
torch::Tensor fused_gelu(const torch::Tensor& x);

/// fused_gelu where it applies and ComposedOpsGuard is not active, else torch::gelu.
torch::Tensor gelu(const torch::Tensor& x);

}  // namespace stars::kernels
