#pragma once
// Data-parallel building blocks over a Group: gradients travel as one flat buffer per
// step (one all-reduce, not one per parameter), and rank 0's weights seed every rank.
#include <vector>

#include <torch/types.h>

#include "stars/dist/group.hpp"

namespace stars::dist {

/// Sums every parameter's gradient over ranks, together with `extras` (scalars such as
/// the step's loss parts and a stop flag), in a single all-reduce. Missing gradients
/// count as zeros.
void all_reduce_gradients(Group& group, const std::vector<torch::Tensor>& params,
                          std::vector<double>& extras);

/// Copies rank 0's values of `tensors` (parameters, buffers) to every rank, in place.
void broadcast_from_rank0(Group& group, const std::vector<torch::Tensor>& tensors);

/// The half-open range [begin, end) of `n` items that `rank` of `world` owns: contiguous
/// and as even as possible, so that the ranks' ranges tile [0, n).
std::pair<int, int> shard_range(int n, int rank, int world);

}  // namespace stars::dist
