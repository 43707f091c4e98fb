#pragma once
// Small fixtures shared by the unit tests.
#include <vector>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/model/looplm.hpp"

namespace stars::testing {

/// A LoopLM shape small enough for exact checks in milliseconds.
inline ModelConfig tiny_model(NormPlacement placement = NormPlacement::post_sandwich) {
  ModelConfig m;
  m.d_model = 16;
  m.n_heads = 2;
  m.d_ff = 32;
  m.max_len = 32;
  m.norm_placement = placement;
  return m;
}

/// A tiny double-precision LoopLM, so finite differences are accurate.
inline LoopLM tiny_double_model() {
  ModelConfig m;
  m.d_model = 4;
  m.n_heads = 2;
  m.d_ff = 8;
  m.max_len = 8;
  torch::manual_seed(3);
  LoopLM model(m, 16);
  model->to(torch::kDouble);
  model->eval();
  return model;
}

/// f(x) = x A^T for each sample, with sample b scaled by scales[b].
inline StateMap linear_map(const torch::Tensor& A, std::vector<double> scales = {1.0}) {
  auto s = torch::tensor(scales, torch::kDouble).view({-1, 1, 1});
  return [A, s](const torch::Tensor& x) { return torch::matmul(x, A.t()) * s; };
}

}  // namespace stars::testing
