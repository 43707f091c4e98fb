#pragma once
// Normalisation layers selectable by name: layernorm, rmsnorm, simplenorm (no affine).
// RMSNorm is computed in float32 and cast back before its weight, as pretrained LoopLMs
// (Ouro, Llama) do, so that half-precision activations normalise exactly.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "stars/config/config.hpp"

namespace stars {

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(NormType type, std::int64_t dim, double eps = 1e-5);
  /// Normalises over the last dimension: (..., D) -> (..., D).
  torch::Tensor forward(const torch::Tensor& x);

  NormType type() const { return type_; }

 private:
  NormType type_;
  double eps_;
  torch::Tensor weight_;  // (D), absent for simplenorm
  torch::Tensor bias_;    // (D), layernorm only
};
TORCH_MODULE(Norm);

}  // namespace stars
