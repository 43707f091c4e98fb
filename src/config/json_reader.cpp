#include "json_reader.hpp"

#include "stars/eval/depth_spec.hpp"

namespace stars::detail {

JsonReader::JsonReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {
  if (!j_.is_object())
    throw ConfigError((path_.empty() ? std::string("config") : path_) +
                      ": expected a JSON object, got " +
                      j_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string JsonReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const nlohmann::json* JsonReader::take(const char* key) {
  known_.insert(key);
  auto it = j_.find(key);
  return it == j_.end() ? nullptr : &*it;
}

void JsonReader::fail_type(const char* key, const nlohmann::json& v, const char* want) const {
  throw ConfigError(key_path(key) + ": expected " + want + ", got " +
                    v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + " (" +
                    v.type_name() + ")");
}

void JsonReader::read(const char* key, int& out) {
  const nlohmann::json* v = take(key);
  if (!v) return;
  if (!v->is_number_integer()) fail_type(key, *v, "an integer");
  out = v->get<int>();
}

void JsonReader::read(const char* key, double& out) {
  const nlohmann::json* v = take(key);
  if (!v) return;
  if (!v->is_number()) fail_type(key, *v, "a number");
  out = v->get<double>();
}

void JsonReader::read(const char* key, bool& out) {
  const nlohmann::json* v = take(key);
  if (!v) return;
  if (!v->is_boolean()) fail_type(key, *v, "true or false");
  out = v->get<bool>();
}

void JsonReader::read(const char* key, std::string& out) {
  const nlohmann::json* v = take(key);
  if (!v) return;
  if (!v->is_string()) fail_type(key, *v, "a string");
  out = v->get<std::string>();
}

void JsonReader::read(const char* key, std::vector<int>& out) {
  const nlohmann::json* v = take(key);
  if (!v) return;
  if (v->is_string()) {  // a depth spec, as eval.depths takes: "1..8,16,64"
    try {
      out = parse_depths(v->get<std::string>());
    } catch (const ConfigError& e) {
      throw ConfigError(key_path(key) + ": " + e.what());
    }
    return;
  }
  if (v->is_number_integer()) {  // one depth, as `--set eval.monitor_depths=4` gives
    out = {v->get<int>()};
    return;
  }
  if (!v->is_array())
    fail_type(key, *v, "an array of integers, one integer or a depth spec such as \"1..8,16\"");
  out.clear();
  for (const auto& e : *v) {
    if (!e.is_number_integer()) fail_type(key, *v, "an array of integers");
    out.push_back(e.get<int>());
  }
}

void JsonReader::finish() const {
  for (const auto& [key, value] : j_.items()) {
    (void)value;
    if (known_.count(key)) continue;
    std::string valid;
    for (const auto& k : known_) valid += (valid.empty() ? "" : ", ") + k;
    throw ConfigError(key_path(key) + ": unknown key; valid keys here: " + valid);
  }
}

}  // namespace stars::detail
