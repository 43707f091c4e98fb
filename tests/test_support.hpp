#pragma once
// Small fixtures shared by the unit tests.
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/model/looplm.hpp"

namespace stars::testing {

/// An empty directory NAME under the system's temporary directory (removed first if present).
inline std::string fresh_temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

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

/// The tiny shape with every option of pretrained LoopLMs as Ouro sets them (rotary
/// positions, SwiGLU, no biases, four-norm RMSNorm sandwich, the final norm in the loop,
/// an untied head) and grouped-query attention on top (Ouro-1.4B itself has one key/value
/// head per query head).
inline ModelConfig ouro_tiny_model(int n_core_layers = 2, int n_kv_heads = 2) {
  ModelConfig m;
  m.d_model = 16;
  m.n_heads = 4;
  m.n_kv_heads = n_kv_heads;
  m.d_ff = 24;
  m.max_len = 32;
  m.n_core_layers = n_core_layers;
  m.norm_placement = NormPlacement::pre_sandwich;
  m.norm_type = NormType::rmsnorm;
  m.norm_eps = 1e-6;
  m.positions = Positions::rope;
  m.rope_theta = 10000;
  m.mlp = MlpKind::swiglu;
  m.bias = false;
  m.tied_head = false;
  m.norm_in_loop = true;
  return m;
}

/// A training run that learns 2-digit addition in tens of steps: one STARS phase of `steps`
/// steps (random loops 1-6, the penalty from step 3), 32 problems a step.
inline Config tiny_training_config(int steps) {
  Config c;
  c.model.d_model = 32;
  c.model.n_heads = 2;
  c.model.d_ff = 64;
  c.data.digits = 2;
  c.train.batch = 32;
  c.train.eval_every = 0;
  c.train.eval_n = 16;
  c.train.log_every = 1000;
  c.eval.monitor_depths = {2};
  c.phases = {PhaseConfig{}};
  c.phases[0].steps = steps;
  c.phases[0].lr = 3e-3;
  c.phases[0].warmup = 5;
  c.phases[0].loops.min = 1;
  c.phases[0].loops.max = 6;
  c.phases[0].loops.mu = 1.0;
  c.phases[0].jacobian_penalty.start_step = 3;
  return c;
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
