// The config as JSON with only the keys that act on the run (stars-train --print-config).
#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"

namespace stars {
namespace {

using nlohmann::json;

/// Keeps only `keep` in the object `section`.
void keep_only(json& section, std::initializer_list<const char*> keep) {
  json kept = json::object();
  for (const char* key : keep) kept[key] = section.at(key);
  section = std::move(kept);
}

void keep_sampler_keys(json& loops, SamplerKind sampler) {
  switch (sampler) {
    case SamplerKind::fixed:
      return keep_only(loops, {"sampler", "n", "backprop_depth"});
    case SamplerKind::uniform:
      return keep_only(loops, {"sampler", "min", "max", "backprop_depth"});
    case SamplerKind::poisson:
      return keep_only(loops, {"sampler", "lambda", "min", "max", "backprop_depth"});
    case SamplerKind::lognormal:
      return keep_only(loops, {"sampler", "mu", "sigma", "min", "max", "backprop_depth"});
  }
}

void prune_loops(json& loops, const LoopsConfig& config) {
  const json per_difficulty = loops.at("per_difficulty");
  keep_sampler_keys(loops, config.sampler);
  if (config.per_difficulty > 0) loops["per_difficulty"] = per_difficulty;
}

void prune_penalty(json& penalty, const JacobianPenaltyConfig& config) {
  if (config.weight == 0) return keep_only(penalty, {"weight"});
  if (config.penalty != PenaltyKind::hinge) penalty.erase("target");
}

void prune_phase(json& phase, const PhaseConfig& config) {
  prune_loops(phase.at("loops"), config.loops);
  prune_penalty(phase.at("jacobian_penalty"), config.jacobian_penalty);
  if (config.lr_schedule != LrSchedule::wsd) phase.erase("decay_fraction");
  // Without a goal accuracy the phase runs all its steps and the goal's other keys idle.
  if (config.until.accuracy == 0) keep_only(phase.at("until"), {"accuracy"});
}

/// Text reads a file in windows, chat a file of conversations; the tasks generate problems
/// with a difficulty dial.
void prune_data(json& data, const DataConfig& config) {
  const char* valid = config.valid_file.empty() ? "valid_fraction" : "valid_file";
  if (config.task == "text") {
    keep_only(data, {"task", "train_file", valid, "seq_len"});
  } else if (config.task == "chat") {
    keep_only(data, {"task", "train_file", valid, "seq_len", "tokenizer", "system"});
  } else {
    for (const char* key : {"valid_file", "valid_fraction", "seq_len", "tokenizer", "system"})
      data.erase(key);
  }
}

}  // namespace

nlohmann::json applicable_config_json(const Config& c) {
  json j = c;
  prune_data(j.at("data"), c.data);
  const bool read = c.data.task == "text" || c.data.task == "chat";
  for (size_t i = 0; i < c.phases.size(); ++i) {
    json& phase = j.at("phases").at(i);
    prune_phase(phase, c.phases[i]);
    if (read)  // no problems: no difficulty range, no accuracy goal
      for (const char* key : {"min_difficulty", "max_difficulty", "until"}) phase.erase(key);
  }
  return j;
}

}  // namespace stars
