// A program outside the stars tree: builds a LoopLM and runs the Jacobian penalty.
#include <iostream>

#include <torch/torch.h>
#include <stars/model/looplm.hpp>
#include <stars/train/objective.hpp>

int main() {
  stars::ModelConfig m;
  m.d_model = 16;
  m.n_heads = 2;
  m.d_ff = 32;
  stars::LoopLM model(m, 16);
  auto out = model->forward(torch::tensor({{1, 2, 3}}, torch::kLong), 4);
  auto r = stars::jacobian_penalty(model->state_map(out.input), out.state,
                                   stars::JacobianPenaltyConfig{});
  std::cout << "consumer ok: logits " << out.logits.sizes() << " R " << r.item<double>() << "\n";
  return out.logits.size(2) == 16 ? 0 : 1;
}
