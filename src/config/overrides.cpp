// `--set key.path=value` overrides, applied to the JSON form so they pass the same checks.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/config/fields.hpp"

namespace stars {
namespace {

using nlohmann::json;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = path.find('.', start);
    // A renamed key is found under its current name (phases.1.reg.weight still works).
    parts.push_back(config_fields::current_key(path.substr(start, dot - start)));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

json parse_value(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    json word = text;  // a bare word such as post_sandwich
    try {
      (void)word.dump();
    } catch (const json::exception&) {
      throw ConfigError("--set value '" +
                        word.dump(-1, ' ', false, json::error_handler_t::replace) +
                        "' is not valid UTF-8 text; use plain ASCII names and numbers");
    }
    return word;
  }
}

bool is_index(const std::string& s) {
  // Short enough for std::stoul; no config array comes near a billion entries.
  return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

/// Walks to the parent of the last path element, checking each step exists.
json& walk(json& root, const std::vector<std::string>& parts, const std::string& assignment) {
  json* node = &root;
  std::string seen;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string& p = parts[i];
    seen += (seen.empty() ? "" : ".") + p;
    if (node->is_array() && is_index(p) && std::stoul(p) < node->size()) {
      node = &(*node)[std::stoul(p)];
    } else if (node->is_object() && node->contains(p)) {
      node = &(*node)[p];
    } else {
      throw ConfigError("--set " + assignment + ": '" + seen +
                        "' does not exist in the config (see the run's config.json for keys)");
    }
  }
  return *node;
}

}  // namespace

Config apply_overrides(const Config& base, const std::vector<std::string>& assignments) {
  json j = base;
  for (const auto& a : assignments) {
    std::size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError("--set " + a + ": expected key.path=value, e.g. model.d_model=256");
    std::vector<std::string> parts = split_path(a.substr(0, eq));
    json& parent = walk(j, parts, a);
    if (!parent.is_object() && !parent.is_array())
      throw ConfigError("--set " + a + ": '" + a.substr(0, a.rfind('.', eq)) +
                        "' is a value, not a section with keys");
    const std::string& last = parts.back();
    json value = parse_value(a.substr(eq + 1));
    if (parent.is_array()) {
      if (!is_index(last) || std::stoul(last) >= parent.size())
        throw ConfigError("--set " + a + ": index '" + last + "' is out of range (size " +
                          std::to_string(parent.size()) + ")");
      parent[std::stoul(last)] = value;
    } else {
      // A string field takes the raw text, so eval.depths=4 means "4", not the number 4.
      const std::string raw = a.substr(eq + 1);
      if (parent.contains(last) && parent[last].is_string() && !value.is_string()) value = raw;
      parent[last] = value;  // an unknown key is rejected by config_from_json below
    }
  }
  try {
    return config_from_json(j);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("--set: ") + e.what());
  }
}

}  // namespace stars

namespace stars {

Config resumed_config(const Config& run, const std::vector<std::string>& assignments) {
  const std::string last_steps = "phases." + std::to_string(run.phases.size() - 1) + ".steps";
  const std::vector<std::string> cadence{"train.log_every", "train.eval_every", "train.eval_n",
                                         "train.checkpoint_every", "train.keep_checkpoints"};
  for (const std::string& a : assignments) {
    const auto eq = a.find('=');
    std::string key;
    for (const auto& part : split_path(a.substr(0, eq))) key += (key.empty() ? "" : ".") + part;
    if (key != last_steps && std::find(cadence.begin(), cadence.end(), key) == cadence.end())
      throw ConfigError("--resume --set " + key + ": a resumed run keeps its config, except " +
                        last_steps + " (to extend its last phase) and " + cadence[0] + ", " +
                        cadence[1] + ", " + cadence[2] + ", " + cadence[3] + " and " + cadence[4] +
                        "; to change anything else, start a new run from its " +
                        "weights: stars-train --init RUN --config ... --out NEW");
  }
  Config extended = apply_overrides(run, assignments);
  if (extended.phases.back().steps < run.phases.back().steps)
    throw ConfigError("--resume --set " + last_steps + "=" +
                      std::to_string(extended.phases.back().steps) + ": a run can be extended, " +
                      "not shortened (it has " + std::to_string(run.phases.back().steps) +
                      "); give at least that");
  return extended;
}

}  // namespace stars
