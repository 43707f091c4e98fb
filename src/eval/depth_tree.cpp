#include "depth_tree.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <torch/torch.h>

namespace stars::detail {

DepthTree::DepthTree(LoopLM& model, const Tokenizer& tok, std::vector<int> depths)
    : model_(model), eos_(tok.eos_id()), depths_(std::move(depths)) {}

std::int64_t DepthTree::active_at(int loop) const {
  // Branches are ordered by deepest depth, largest first: those deeper than `loop` lead.
  const auto it = std::partition_point(branches_.begin(), branches_.end(),
                                       [&](const Branch& b) { return b.deepest(depths_) > loop; });
  return it - branches_.begin();
}

void DepthTree::read_tokens(const torch::Tensor& h, int slot,
                            std::vector<std::vector<std::int64_t>>& next) const {
  // The whole (rows, T) readout, as greedy_decode takes it, then the last position.
  const auto tokens = model_->readout(h).select(1, -1).argmax(-1).cpu().contiguous();
  const auto* t = tokens.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < h.size(0); ++b) {
    const auto& slots = branches_[static_cast<std::size_t>(b)].slots;
    if (std::binary_search(slots.begin(), slots.end(), slot))
      next[static_cast<std::size_t>(b)][static_cast<std::size_t>(slot)] = t[b];
  }
}

std::vector<std::vector<std::int64_t>> DepthTree::step(const torch::Tensor& tokens) {
  std::vector<std::vector<std::int64_t>> next(branches_.size(),
                                              std::vector<std::int64_t>(depths_.size(), -1));
  const torch::Tensor e = model_->embed(tokens, cache_.length, &cache_.prelude);
  const int deepest = branches_.front().deepest(depths_);
  if (cache_.core.size() < static_cast<std::size_t>(deepest))
    cache_.core.resize(static_cast<std::size_t>(deepest));
  std::size_t slot = 0;
  torch::Tensor h = e;
  if (depths_[0] == 0) read_tokens(h, static_cast<int>(slot++), next);
  for (int loop = 0; loop < deepest; ++loop) {
    const std::int64_t active = active_at(loop);
    if (active < h.size(0)) h = h.narrow(0, 0, active);
    h = model_->core_step(h, e.narrow(0, 0, active), &cache_.core[static_cast<std::size_t>(loop)]);
    if (slot < depths_.size() && depths_[slot] == loop + 1)
      read_tokens(h, static_cast<int>(slot++), next);
  }
  cache_.length += tokens.size(1);
  return next;
}

torch::Tensor DepthTree::advance(const std::vector<std::vector<std::int64_t>>& next, int position) {
  struct Child {
    Branch branch;
    std::size_t parent;
    std::int64_t token;
    bool keeps_parent_depth;
  };
  std::vector<Child> children;
  auto out = out_.accessor<std::int64_t, 3>();
  for (std::size_t b = 0; b < branches_.size(); ++b) {
    const Branch& parent = branches_[b];
    std::map<std::int64_t, std::vector<int>> by_token;  // token -> its slots, ascending
    for (int slot : parent.slots) {
      auto done = done_[static_cast<std::size_t>(slot)][static_cast<std::size_t>(parent.row)];
      const std::int64_t token = done ? eos_ : next[b][static_cast<std::size_t>(slot)];
      out[slot][parent.row][position] = token;
      done = done || token == eos_;  // a reference into the vector<bool>
      by_token[token].push_back(slot);
    }
    for (auto& [token, slots] : by_token) {
      const bool keeps = slots.back() == parent.slots.back();
      children.push_back({Branch{parent.row, std::move(slots)}, b, token, keeps});
    }
  }
  // Deepest first; among equals, in the parents' order, so that a branch that keeps its
  // parent's deepest depth keeps its place among the branches deeper than any new one.
  std::stable_sort(children.begin(), children.end(), [&](const Child& a, const Child& b) {
    const int da = a.branch.deepest(depths_), db = b.branch.deepest(depths_);
    return da != db ? da > db : a.parent < b.parent;
  });
  int changed_loops = 0;  // loops whose set of branches changed: those a new branch runs
  std::vector<std::int64_t> parents, tokens;
  branches_.clear();
  for (auto& c : children) {
    if (!c.keeps_parent_depth) changed_loops = std::max(changed_loops, c.branch.deepest(depths_));
    parents.push_back(static_cast<std::int64_t>(c.parent));
    tokens.push_back(c.token);
    branches_.push_back(std::move(c.branch));
  }
  reindex_caches(parents, changed_loops);
  return torch::tensor(tokens, torch::kLong).unsqueeze(1);
}

void DepthTree::reindex_caches(const std::vector<std::int64_t>& parents, int changed_loops) {
  const auto device =
      cache_.prelude.empty() ? model_->tok_emb->weight.device() : cache_.prelude[0].k.device();
  const auto all = torch::tensor(parents, torch::kLong).to(device);
  auto select = [](std::vector<KVCache>& layers, const torch::Tensor& index) {
    for (auto& c : layers) {
      c.k = c.k.index_select(0, index);
      c.v = c.v.index_select(0, index);
    }
  };
  select(cache_.prelude, all);
  for (int loop = 0; loop < changed_loops; ++loop)
    select(cache_.core[static_cast<std::size_t>(loop)], all.narrow(0, 0, active_at(loop)));
}

torch::Tensor DepthTree::decode(const torch::Tensor& prompts, int max_new_tokens) {
  const std::int64_t rows = prompts.size(0);
  std::vector<int> all_slots(depths_.size());
  std::iota(all_slots.begin(), all_slots.end(), 0);
  for (std::int64_t r = 0; r < rows; ++r) branches_.push_back({r, all_slots});
  out_ = torch::full({static_cast<std::int64_t>(depths_.size()), rows, max_new_tokens}, eos_,
                     torch::kLong);
  done_.assign(depths_.size(), std::vector<bool>(static_cast<std::size_t>(rows), false));
  torch::Tensor tokens = prompts;
  for (int i = 0; i < max_new_tokens; ++i) {
    const auto next = step(tokens);
    tokens = advance(next, i).to(prompts.device());
    const bool all_done = std::all_of(done_.begin(), done_.end(), [](const auto& d) {
      return std::all_of(d.begin(), d.end(), [](bool x) { return x; });
    });
    if (all_done) break;
  }
  return out_;
}

}  // namespace stars::detail
