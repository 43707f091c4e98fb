#include "stars/model/attention_probe.hpp"

#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

#include "kernels/fused_attention.hpp"

namespace stars {
namespace {
thread_local AttentionProbe* current = nullptr;
}  // namespace

AttentionProbe::AttentionProbe() {
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
  const auto last = q.select(2, -1).unsqueeze(2);                      // (B, H, 1, hs)
  // The last query sees every key, so no causal mask applies to its row.
  const auto scores = torch::matmul(last, k.transpose(-2, -1)).squeeze(2) /
                      std::sqrt(static_cast<double>(q.size(-1)));
  rows_.push_back(torch::softmax(scores, -1).cpu());  // (B, H, T)
}

}  // namespace stars
