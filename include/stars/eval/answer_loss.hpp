#pragma once
// The teacher-forced loss on the answer tokens at each depth: where exact match says only
// right or wrong, the loss shows how far a depth is from the answer, and how that changes
// with difficulty (a curriculum's signal).
#include <vector>

#include <torch/types.h>

#include "stars/data/batch.hpp"
#include "stars/data/task.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/model/looplm.hpp"

namespace stars {

/// Summed cross-entropy (nats) of the readout of state `h` against `targets` (positions
/// without a target ignored).
double summed_nats(LoopLM& model, const torch::Tensor& h, const torch::Tensor& targets);
/// The same from the logits (B, T, V).
double summed_nats(const torch::Tensor& logits, const torch::Tensor& targets);

/// Nats summed over `batch`'s targets after each of `depths` loops (in the order given),
/// from one pass to the deepest; shared by the answer loss and text bits per byte.
std::vector<double> nats_by_depth(LoopLM& model, const Batch& batch,
                                  const std::vector<int>& depths);

/// Mean cross-entropy (nats per answer token, the end-of-sequence token included), with the
/// whole answer given (teacher forcing), after each of `depths` loops; one value per depth,
/// in the order given. One pass of `max(depths)` loops per batch of `batch` problems; no
/// adaptive exit (each depth is exactly that many loops).
std::vector<double> answer_loss_at_depths(LoopLM& model, const std::vector<Example>& examples,
                                          const Tokenizer& tok, const std::vector<int>& depths,
                                          int batch, torch::Device device);

}  // namespace stars
