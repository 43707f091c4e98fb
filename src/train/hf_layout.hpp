#pragma once
// The parts of the Hugging Face layout (include/stars/train/hf_checkpoint.hpp): config.json
// to and from stars settings, the tensor names, and the shard index. Separate so that each
// is tested and fuzzed on its own.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"

namespace stars::hf {

/// What config.json says: the model settings, its vocabulary size, and the stars config
/// stored under "stars" (has_stars false: none; then `config` holds defaults).
struct ModelDescription {
  Config config;
  bool has_stars = false;
  std::int64_t vocab_size = 0;
};

/// Reads config.json's text (`origin` names the file in errors). `exit_gate` says whether
/// the weights hold Ouro's early_exit_gate. Throws DataError naming a key that is unknown,
/// of the wrong type or out of range, or that disagrees with the "stars" config.
ModelDescription read_config(const std::string& text, const std::string& origin, bool exit_gate);

/// config.json for a model of `cfg` with `vocab_size` tokens.
nlohmann::json write_config(const Config& cfg, std::int64_t vocab_size, int loops,
                            const std::string& torch_dtype);

/// The first setting that keeps `model` from the layout, as "model.KEY = VALUE (the layout
/// needs NEEDED)", or "" when it fits.
std::string layout_mismatch(const ModelConfig& model);

/// A shard index: the file each tensor is in. Throws DataError for a malformed index, a
/// file name that leaves the directory, or a tensor listed twice.
std::map<std::string, std::string> read_index(const std::string& text, const std::string& origin);

/// One stars parameter made of Hugging Face tensors stacked along its rows (q, k and v
/// into qkv; every other parameter is one tensor): each part's name and its rows.
struct StarsWeight {
  struct Part {
    std::string hf_name;
    std::int64_t row = 0, rows = 0;
  };
  std::vector<std::int64_t> shape;
  std::vector<Part> parts;
};
using WeightPlan = std::map<std::string, StarsWeight>;  // by stars name

/// Where each parameter of a model of `model` settings comes from, given the shapes of the
/// Hugging Face tensors (by name). Throws DataError naming a missing, unknown or mis-shaped
/// tensor; `origin` names the directory. Shapes alone: the weights are then read one
/// tensor at a time, straight into the parameters.
WeightPlan plan_stars_weights(const std::map<std::string, std::vector<std::int64_t>>& hf,
                              const ModelConfig& model, std::int64_t vocab_size,
                              const std::string& origin);

/// stars parameters to Hugging Face tensors, in the order the layout lists them.
std::vector<std::pair<std::string, torch::Tensor>> to_hf(
    const std::map<std::string, torch::Tensor>& stars, const ModelConfig& model);

}  // namespace stars::hf
