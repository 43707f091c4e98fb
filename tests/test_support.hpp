#pragma once
// Small fixtures shared by the unit tests.
#include "stars/config/config.hpp"

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

}  // namespace stars::testing
