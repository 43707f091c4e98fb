#pragma once
// Activation recomputation across loops (gradient checkpointing): a loop run this way keeps
// for the backward pass only its input state h and the injected input e, not the
// activations of its layers; its backward pass runs the loop again with a graph and
// differentiates that. Training memory then grows by one (B, T, D) state per loop instead
// of every layer's activations per loop, for about one more forward pass of the core.
#include <torch/types.h>

namespace stars {

class LoopLMImpl;

/// Φ(h) = model.core_step(h, e), recorded for autograd as one node whose backward pass
/// recomputes the loop. Its gradient flows to h, e and the weights core_step uses; dropout
/// draws the same masks when recomputed (the generator's state is replayed). The node is
/// differentiable once: a graph built through it cannot be differentiated again.
torch::Tensor recomputed_core_step(LoopLMImpl& model, const torch::Tensor& h,
                                   const torch::Tensor& e);

}  // namespace stars
