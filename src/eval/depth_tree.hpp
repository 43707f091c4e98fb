#pragma once
// Greedy decoding at many depths in one pass (private to src/eval; see decode.hpp).
//
// A loop's state and key/value cache depend only on the tokens so far and on the loops
// before it, never on how many loops follow. So decoding at depths d1 < d2 < ... can share
// every loop among the depths whose answers still agree: each problem becomes a set of
// branches, one per distinct answer prefix; a branch runs to the deepest of its depths and
// reads the next token out at each of them, and it splits when they choose different tokens.
// The cost is about that of the deepest depth alone, not the sum over the depths.
//
// Branches are kept ordered by their deepest depth, largest first, so that loop k runs on a
// prefix of them (those deeper than k) and the cache of loop k holds exactly that prefix.
#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "stars/data/tokenizer.hpp"
#include "stars/model/looplm.hpp"

namespace stars::detail {

class DepthTree {
 public:
  /// `depths` ascending and unique; prompts (B, T).
  DepthTree(LoopLM& model, const Tokenizer& tok, std::vector<int> depths);

  /// Greedy continuations of `prompts` at every depth: (n_depths, B, max_new_tokens) int64,
  /// eos after a sequence's eos, as greedy_decode gives at each depth.
  torch::Tensor decode(const torch::Tensor& prompts, int max_new_tokens);

 private:
  struct Branch {
    std::int64_t row;        // the problem, a row of the prompts
    std::vector<int> slots;  // indices into depths_, ascending: the depths on this prefix
    int deepest(const std::vector<int>& depths) const { return depths[slots.back()]; }
  };

  /// Runs `tokens` (one row per branch) through every branch's loops and returns the greedy
  /// token of each (branch, depth slot) pair, -1 where the branch lacks the slot.
  std::vector<std::vector<std::int64_t>> step(const torch::Tensor& tokens);
  /// Argmax of the last position's logits of `h` (the first rows of the branches) for the
  /// branches that hold `slot`.
  void read_tokens(const torch::Tensor& h, int slot,
                   std::vector<std::vector<std::int64_t>>& next) const;
  /// Records each pair's token, splits branches whose depths disagree, reorders the
  /// branches and their caches, and returns the next input token of each branch.
  torch::Tensor advance(const std::vector<std::vector<std::int64_t>>& next, int position);
  /// Reorders the caches so that new branch i continues old branch parents[i].
  void reindex_caches(const std::vector<std::int64_t>& parents, int changed_loops);
  /// Branches deeper than `loop` (loop counted from 0).
  std::int64_t active_at(int loop) const;

  LoopLM& model_;
  std::int64_t eos_;
  std::vector<int> depths_;
  std::vector<Branch> branches_;
  DecodeCache cache_;
  torch::Tensor out_;                    // (n_depths, B, max_new_tokens) on the CPU
  std::vector<std::vector<bool>> done_;  // [slot][row]
};

}  // namespace stars::detail
