#pragma once
// Where a position looks: while an AttentionProbe is alive on a thread, every causal
// self-attention forward on that thread records the attention weights of its last query
// position, or of every query position. Analysis tools use it to ask which prompt tokens the
// answer position (or any position) reads at each loop; training and decoding never create
// one, so they pay nothing for it.
#include <vector>

#include <torch/types.h>

namespace stars {

/// Which query positions a probe records.
enum class ProbedQueries { last, all };

class AttentionProbe {
 public:
  /// Starts recording on this thread; a second probe on the same thread is refused
  /// (std::logic_error), so that no forward is recorded twice.
  explicit AttentionProbe(ProbedQueries queries = ProbedQueries::last);
  ~AttentionProbe();
  AttentionProbe(const AttentionProbe&) = delete;
  AttentionProbe& operator=(const AttentionProbe&) = delete;

  /// The probe recording on this thread, or null.
  static AttentionProbe* active();

  /// Called by attention: the weights of the probed query positions, computed from the
  /// packed projection qkv (B, T, 3D) of a forward without a cached prefix (a cached
  /// forward's keys are not all in qkv, so it is not recorded).
  void record(const torch::Tensor& qkv, std::int64_t n_heads);

  /// One tensor per recorded forward, in call order: (B, n_heads, T) for the last query,
  /// (B, n_heads, T, T) for all (query q's row is zero beyond key q); each row sums to 1.
  const std::vector<torch::Tensor>& rows() const { return rows_; }

 private:
  ProbedQueries queries_;
  std::vector<torch::Tensor> rows_;
};

}  // namespace stars
