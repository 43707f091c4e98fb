#include "loop_recompute.hpp"

#include <mutex>
#include <optional>

#include <ATen/Context.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/saved_variable.h>
#include <torch/torch.h>

#include "stars/model/looplm.hpp"

namespace stars {
namespace {

using torch::autograd::variable_list;

/// The default generator's state, read where the loop first runs and set again while it is
/// recomputed, so that dropout draws the same masks both times. Only where dropout draws.
class GeneratorReplay {
 public:
  explicit GeneratorReplay(const torch::Device& device)
      : generator_(at::globalContext().defaultGenerator(device)) {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    state_ = generator_.get_state();
  }
  /// Runs `f` from the recorded state, leaving the generator as it found it.
  template <typename F>
  torch::Tensor replay(F&& f) {
    torch::Tensor now;
    {
      std::lock_guard<std::mutex> lock(generator_.mutex());
      now = generator_.get_state();
      generator_.set_state(state_);
    }
    torch::Tensor out = f();
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(now);
    return out;
  }

 private:
  at::Generator generator_;
  torch::Tensor state_;
};

/// The autograd node of one recomputed loop. Its next edges are h's, e's and each weight of
/// model.core_step_parameters() (in that order); apply() reruns the loop with a graph and
/// returns the gradients of those that the backward pass asks for.
class RecomputedLoop : public torch::autograd::Node {
 public:
  RecomputedLoop(LoopLMImpl& model, const torch::Tensor& h, const torch::Tensor& e,
                 std::optional<GeneratorReplay> replay)
      : model_(model),
        h_(h, /*is_output=*/false),
        e_(e, /*is_output=*/false),
        replay_(std::move(replay)) {}

  std::string name() const override { return "stars::RecomputedLoop"; }

  variable_list apply(variable_list&& grads) override {
    variable_list out_grads(num_outputs());
    if (!grads[0].defined()) return out_grads;
    const torch::Tensor h = h_.unpack().detach().requires_grad_(task_should_compute_output(0));
    const torch::Tensor e = e_.unpack().detach().requires_grad_(task_should_compute_output(1));
    torch::Tensor out;
    {
      torch::AutoGradMode with_graph(true);
      auto step = [&] { return model_.core_step(h, e); };
      out = replay_ ? replay_->replay(step) : step();
    }
    std::vector<torch::Tensor> wrt;
    std::vector<std::size_t> slot;  // the output edge of each entry of wrt
    auto ask = [&](std::size_t edge, const torch::Tensor& t) {
      if (!task_should_compute_output(edge)) return;
      wrt.push_back(t);
      slot.push_back(edge);
    };
    ask(0, h);
    ask(1, e);
    const std::vector<torch::Tensor> weights = model_.core_step_parameters();
    for (std::size_t i = 0; i < weights.size(); ++i) ask(2 + i, weights[i]);
    if (wrt.empty()) return out_grads;
    const auto g = torch::autograd::grad({out}, wrt, {grads[0]}, /*retain_graph=*/false,
                                         /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t k = 0; k < g.size(); ++k) out_grads[slot[k]] = g[k];
    return out_grads;
  }

  void release_variables() override {
    h_.reset_data();
    e_.reset_data();
  }

 private:
  LoopLMImpl& model_;
  torch::autograd::SavedVariable h_, e_;
  std::optional<GeneratorReplay> replay_;
};

}  // namespace

torch::Tensor recomputed_core_step(LoopLMImpl& model, const torch::Tensor& h,
                                   const torch::Tensor& e) {
  std::vector<torch::Tensor> weights = model.core_step_parameters();
  const bool needs_graph = torch::GradMode::is_enabled() &&
                           (h.requires_grad() || e.requires_grad() ||
                            std::any_of(weights.begin(), weights.end(),
                                        [](const torch::Tensor& w) { return w.requires_grad(); }));
  if (!needs_graph) return model.core_step(h, e);
  std::optional<GeneratorReplay> replay;
  if (model.is_training() && model.config().dropout > 0) replay.emplace(h.device());
  torch::Tensor out;
  {
    torch::NoGradGuard no_graph;
    out = model.core_step(h, e);
  }
  auto node = std::shared_ptr<RecomputedLoop>(new RecomputedLoop(model, h, e, std::move(replay)),
                                              torch::autograd::deleteNode);
  node->set_next_edges(torch::autograd::collect_next_edges(h, e, weights));
  torch::autograd::create_gradient_edge(out, node);
  return out;
}

}  // namespace stars
