// config.json of the Hugging Face layout and its shard index (docs/pretrained.md).
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before {fmt} 11)

#include "hf_layout.hpp"
#include "stars/config/errors.hpp"

namespace stars::hf {
namespace {

using nlohmann::json;

/// Keys that set a stars model setting or must have one value.
const std::set<std::string> kUsedKeys = {"hidden_size",
                                         "num_hidden_layers",
                                         "num_attention_heads",
                                         "num_key_value_heads",
                                         "head_dim",
                                         "intermediate_size",
                                         "rms_norm_eps",
                                         "rope_theta",
                                         "vocab_size",
                                         "hidden_act",
                                         "max_position_embeddings",
                                         "initializer_range",
                                         "model_type",
                                         "layer_types",
                                         "tie_word_embeddings",
                                         "attention_dropout",
                                         "rope_scaling",
                                         "use_sliding_window",
                                         "total_ut_steps",
                                         "stars"};
/// Keys Ouro's config defines that change nothing stars computes.
const std::set<std::string> kIgnoredKeys = {
    "architectures",  "auto_map",          "torch_dtype",          "transformers_version",
    "use_cache",      "bos_token_id",      "eos_token_id",         "pad_token_id",
    "sliding_window", "max_window_layers", "early_exit_threshold", "early_exit_step",
    "chunk_size",     "_name_or_path"};

[[noreturn]] void refuse(const std::string& origin, const std::string& what) {
  throw DataError("'" + origin + "': " + what);
}

std::int64_t positive_int(const json& j, const std::string& key, const std::string& origin,
                          std::int64_t limit = std::int64_t{1} << 31) {
  const auto it = j.find(key);
  if (it == j.end()) refuse(origin, "no \"" + key + "\"; a model's config.json needs it");
  if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > limit)
    refuse(origin,
           fmt::format("\"{}\" = {} must be an integer from 1 to {}", key, it->dump(), limit));
  return it->get<std::int64_t>();
}

double number(const json& j, const std::string& key, double fallback, const std::string& origin) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number()) refuse(origin, "\"" + key + "\" = " + it->dump() + " must be a number");
  return it->get<double>();
}

bool flag(const json& j, const std::string& key, bool fallback, const std::string& origin) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    refuse(origin, "\"" + key + "\" = " + it->dump() + " must be true or false");
  return it->get<bool>();
}

void require_value(const json& j, const std::string& key, const json& needed,
                   const std::string& origin) {
  const auto it = j.find(key);
  if (it != j.end() && *it != needed)
    refuse(origin,
           fmt::format("\"{}\" = {}: stars implements only {}", key, it->dump(), needed.dump()));
}

/// The checks of keys that have one acceptable value (or a few).
void check_fixed_keys(const json& j, const std::string& origin) {
  require_value(j, "hidden_act", "silu", origin);
  require_value(j, "model_type", "ouro", origin);
  if (flag(j, "use_sliding_window", false, origin))
    refuse(origin, "\"use_sliding_window\" = true: stars implements full attention only");
  if (const auto it = j.find("layer_types"); it != j.end()) {
    if (!it->is_array()) refuse(origin, "\"layer_types\" must be a list");
    for (const auto& type : *it)
      if (type != "full_attention")
        refuse(origin, "\"layer_types\" holds " + type.dump() +
                           ": stars implements \"full_attention\" only");
  }
  if (const auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    const json type = it->is_object() ? it->value("rope_type", it->value("type", json())) : json();
    if (type != "default")
      refuse(origin, "\"rope_scaling\" = " + it->dump() +
                         ": stars implements unscaled rotary embeddings only (null)");
  }
}

void check_known_keys(const json& j, const std::string& origin) {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : j.items())
    if (!kUsedKeys.count(key) && !kIgnoredKeys.count(key)) unknown.push_back(key);
  if (!unknown.empty())
    refuse(origin, fmt::format("unknown key{} {}; stars reads Ouro's config.json keys (see "
                               "docs/pretrained.md)",
                               unknown.size() > 1 ? "s" : "", fmt::join(unknown, ", ")));
}

/// The model settings config.json sets, over `base` (the "stars" config's, or defaults).
ModelConfig model_settings(const json& j, ModelConfig m, bool exit_gate,
                           const std::string& origin) {
  m.d_model = static_cast<int>(positive_int(j, "hidden_size", origin, 1 << 20));
  m.n_core_layers = static_cast<int>(positive_int(j, "num_hidden_layers", origin, 4096));
  m.n_heads = static_cast<int>(positive_int(j, "num_attention_heads", origin, 4096));
  const int kv = j.contains("num_key_value_heads")
                     ? static_cast<int>(positive_int(j, "num_key_value_heads", origin, 4096))
                     : m.n_heads;
  // One key/value head per query head is n_kv_heads 0 or n_heads in stars: keep the base's
  // spelling of it (0 without a "stars" config), so that the two agree.
  const bool base_is_mha = m.n_kv_heads == 0 || m.n_kv_heads == m.n_heads;
  m.n_kv_heads = kv == m.n_heads && base_is_mha ? m.n_kv_heads : kv;
  m.d_ff = static_cast<int>(positive_int(j, "intermediate_size", origin, 1 << 22));
  if (j.contains("head_dim") && positive_int(j, "head_dim", origin) * m.n_heads != m.d_model)
    refuse(origin, fmt::format("\"head_dim\" = {} is not hidden_size / num_attention_heads = "
                               "{}; stars needs heads that split the hidden size",
                               j["head_dim"].dump(), m.d_model / std::max(1, m.n_heads)));
  m.max_len = static_cast<int>(j.contains("max_position_embeddings")
                                   ? positive_int(j, "max_position_embeddings", origin, 1 << 24)
                                   : 32768);
  m.norm_eps = number(j, "rms_norm_eps", 1e-6, origin);
  m.rope_theta = number(j, "rope_theta", 10000, origin);
  m.init_std = number(j, "initializer_range", 0.02, origin);
  m.dropout = number(j, "attention_dropout", 0.0, origin);
  m.tied_head = flag(j, "tie_word_embeddings", false, origin);
  m.n_prelude_layers = m.n_coda_layers = 0;
  m.inject = Injection::none;
  m.positions = Positions::rope;
  m.mlp = MlpKind::swiglu;
  m.bias = false;
  m.norm_type = NormType::rmsnorm;
  m.norm_placement = NormPlacement::pre_sandwich;
  m.norm_in_loop = true;
  m.exit_gate = exit_gate;
  return m;
}

/// Refuses a "stars" config whose model section differs from what the Ouro keys say.
void check_agreement(const Config& stars, const ModelConfig& derived, const std::string& origin) {
  Config with_derived = stars;
  with_derived.model = derived;
  const json have = json(stars)["model"], want = json(with_derived)["model"];
  std::vector<std::string> differ;
  for (const auto& [key, value] : want.items())
    if (!have.contains(key) || have[key] != value)
      differ.push_back(fmt::format("model.{} is {} under \"stars\" and {} by the Ouro keys", key,
                                   have.contains(key) ? have[key].dump() : "unset", value.dump()));
  if (!differ.empty())
    refuse(origin, fmt::format("its \"stars\" config disagrees with its Ouro keys: {}",
                               fmt::join(differ, "; ")));
}

}  // namespace

ModelDescription read_config(const std::string& text, const std::string& origin, bool exit_gate) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    refuse(origin, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) refuse(origin, "config.json must be a JSON object");
  check_known_keys(j, origin);
  check_fixed_keys(j, origin);
  ModelDescription out;
  if (const auto it = j.find("stars"); it != j.end()) {
    out.has_stars = true;
    out.config = parse_config(it->dump(), origin + " (key \"stars\")");
  }
  const ModelConfig derived = model_settings(j, out.config.model, exit_gate, origin);
  if (out.has_stars) check_agreement(out.config, derived, origin);
  out.config.model = derived;
  out.vocab_size = positive_int(j, "vocab_size", origin, 1 << 24);
  try {
    validate(out.config);
  } catch (const ConfigError& e) {
    refuse(origin, std::string("the model it describes is not valid: ") + e.what());
  }
  return out;
}

std::string layout_mismatch(const ModelConfig& m) {
  auto needs = [](const std::string& setting, const std::string& needed) {
    return "model." + setting + " (the layout needs " + needed + ")";
  };
  if (m.n_prelude_layers != 0)
    return needs("n_prelude_layers = " + std::to_string(m.n_prelude_layers), "0");
  if (m.n_coda_layers != 0) return needs("n_coda_layers = " + std::to_string(m.n_coda_layers), "0");
  if (m.inject != Injection::none) return needs("inject = " + to_string(m.inject), "none");
  if (m.positions != Positions::rope) return needs("positions = " + to_string(m.positions), "rope");
  if (m.mlp != MlpKind::swiglu) return needs("mlp = " + to_string(m.mlp), "swiglu");
  if (m.bias) return needs("bias = true", "false");
  if (m.norm_type != NormType::rmsnorm)
    return needs("norm_type = " + to_string(m.norm_type), "rmsnorm");
  if (m.norm_placement != NormPlacement::pre_sandwich)
    return needs("norm_placement = " + to_string(m.norm_placement), "pre_sandwich");
  if (!m.norm_in_loop) return needs("norm_in_loop = false", "true");
  return "";
}

json write_config(const Config& cfg, std::int64_t vocab_size, int loops,
                  const std::string& torch_dtype) {
  const ModelConfig& m = cfg.model;
  return json{{"architectures", {"OuroForCausalLM"}},
              {"model_type", "ouro"},
              {"hidden_size", m.d_model},
              {"num_hidden_layers", m.n_core_layers},
              {"num_attention_heads", m.n_heads},
              {"num_key_value_heads", m.n_kv_heads > 0 ? m.n_kv_heads : m.n_heads},
              {"head_dim", m.d_model / m.n_heads},
              {"intermediate_size", m.d_ff},
              {"rms_norm_eps", m.norm_eps},
              {"rope_theta", m.rope_theta},
              {"max_position_embeddings", m.max_len},
              {"initializer_range", m.init_std},
              {"tie_word_embeddings", m.tied_head},
              {"attention_dropout", m.dropout},
              {"vocab_size", vocab_size},
              {"hidden_act", "silu"},
              {"use_cache", true},
              {"use_sliding_window", false},
              {"total_ut_steps", loops},
              {"early_exit_threshold", 1.0},
              {"torch_dtype", torch_dtype},
              {"stars", json(cfg)}};
}

std::map<std::string, std::string> read_index(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    refuse(origin, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    refuse(origin, "a shard index needs a \"weight_map\" object of tensor name to file name");
  std::map<std::string, std::string> out;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    if (!file.is_string())
      refuse(origin, "weight_map[\"" + tensor + "\"] = " + file.dump() + " must be a file name");
    const std::string name = file.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos || name == "." || name == "..")
      refuse(origin, "weight_map[\"" + tensor + "\"] = \"" + name +
                         "\" must name a file in the model's directory");
    out[tensor] = name;
  }
  if (out.empty()) refuse(origin, "its weight_map lists no tensors");
  return out;
}

}  // namespace stars::hf
