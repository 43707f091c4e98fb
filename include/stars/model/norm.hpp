#pragma once
// Normalisation layers selectable by name: layernorm, rmsnorm, simplenorm (no affine).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "stars/config/config.hpp"

namespace stars {

class NormImpl : public torch::nn::Module {
 public:
  NormImpl(NormType type, std::int64_t dim);
  /// Normalises over the last dimension: (..., D) -> (..., D).
  torch::Tensor forward(const torch::Tensor& x);

  NormType type() const { return type_; }

 private:
  NormType type_;
  torch::Tensor weight_;  // (D), absent for simplenorm
  torch::Tensor bias_;    // (D), layernorm only
};
TORCH_MODULE(Norm);

}  // namespace stars
