#include "stars/model/attention_probe.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <torch/torch.h>

#include "kernels/fused_attention.hpp"

namespace stars {
namespace {
thread_local AttentionProbe* current = nullptr;
}  // namespace

AttentionProbe::AttentionProbe(ProbedQueries queries) : queries_(queries) {
  if (current) throw std::logic_error("AttentionProbe: one is already recording on this thread");
  current = this;
}

AttentionProbe::~AttentionProbe() {
  current = nullptr;
}

AttentionProbe* AttentionProbe::active() {
  return current;
}

void AttentionProbe::record(const torch::Tensor& qkv, std::int64_t n_heads) {
  torch::NoGradGuard no_grad;
  const auto [q, k, v] = kernels::split_heads(qkv.detach(), n_heads);  // (B, H, T, hs)
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  if (queries_ == ProbedQueries::last) {
    // The last query sees every key, so no causal mask applies to its row.
    const auto last = q.select(2, -1).unsqueeze(2);  // (B, H, 1, hs)
    const auto scores = torch::matmul(last, k.transpose(-2, -1)).squeeze(2) * scale;
    rows_.push_back(torch::softmax(scores, -1).cpu());  // (B, H, T)
    return;
  }
  const auto t = q.size(2);
  const auto future = torch::ones({t, t}, q.options().dtype(torch::kBool)).triu(1);
  const auto scores = (torch::matmul(q, k.transpose(-2, -1)) * scale)
                          .masked_fill(future, -std::numeric_limits<double>::infinity());
  rows_.push_back(torch::softmax(scores, -1).cpu());  // (B, H, T, T)
}

}  // namespace stars
