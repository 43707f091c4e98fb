#include "stars/config/config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "json_reader.hpp"
#include "stars/config/enum_names.hpp"
#include "stars/config/fields.hpp"

namespace stars {
namespace {

using config_fields::fields;
using detail::JsonReader;
using nlohmann::json;

template <typename E, std::size_t N>
auto parser(const EnumTable<E, N>& table) {
  return [&table](const std::string& name, const std::string& where) {
    return parse_enum(table, name, where);
  };
}

/// A phase that sets loop keys but no sampler would silently take the lognormal default
/// (`"loops": {"n": 8}` is then not 8 loops), so it must name its sampler.
void require_sampler(const json& phase, const std::string& where) {
  if (!phase.is_object() || !phase.contains("loops") || !phase["loops"].is_object() ||
      phase["loops"].contains("sampler"))
    return;
  throw ConfigError(where + ".loops: sets " + phase["loops"].dump() +
                    " but no sampler; add \"sampler\": \"fixed\" (n loops), \"uniform\", "
                    "\"poisson\" or \"lognormal\" (the default, which ignores n)");
}

/// Reads a section strictly: every key known (an unknown one lists the valid keys) and
/// typed right; absent keys keep their defaults.
class Reader {
 public:
  Reader(const json& j, std::string path) : r_(j, std::move(path)) {}

  template <typename T, typename Accepts>
  void field(const char* key, T& value, const Accepts&, const char*) {
    r_.read(key, value);
  }
  template <typename E, std::size_t N>
  void choice(const char* key, E& value, const EnumTable<E, N>& table, const char*) {
    r_.read_with(key, value, parser(table));
  }
  template <typename S>
  void section(const char* key, S& sub, const char*, const char* old_key = nullptr) {
    auto read = [](const json& j, const std::string& path, S& s) {
      Reader r(j, path);
      fields(r, s);
      r.finish();
    };
    if (old_key && r_.has(old_key) && r_.has(key))
      throw ConfigError(r_.key_path(old_key) + " is the old name of " + r_.key_path(key) +
                        "; give only " + key);
    if (old_key) r_.read_object(old_key, sub, read);
    r_.read_object(key, sub, read);
  }
  void phases(const char* key, std::vector<PhaseConfig>& phases, const char*) {
    r_.read_any(key, phases,
                [](const json& j, const std::string& path, std::vector<PhaseConfig>& out) {
                  if (!j.is_array() || j.empty())
                    throw ConfigError(path + ": expected a non-empty array of phase objects, got " +
                                      j.dump(-1, ' ', false, json::error_handler_t::replace));
                  out.clear();
                  for (std::size_t i = 0; i < j.size(); ++i) {
                    const std::string where = path + "." + std::to_string(i);
                    require_sampler(j[i], where);
                    PhaseConfig p;  // each phase starts from the phase defaults
                    Reader r(j[i], where);
                    fields(r, p);
                    r.finish();
                    out.push_back(p);
                  }
                });
  }
  void finish() const { r_.finish(); }

 private:
  JsonReader r_;
};

/// Writes a section with every key, enums by name.
class Writer {
 public:
  json out = json::object();

  template <typename T, typename Accepts>
  void field(const char* key, const T& value, const Accepts&, const char*) {
    out[key] = value;
  }
  template <typename E, std::size_t N>
  void choice(const char* key, E value, const EnumTable<E, N>& table, const char*) {
    out[key] = enum_name(table, value);
  }
  template <typename S>
  void section(const char* key, S& sub, const char*, const char* = nullptr) {
    Writer w;
    fields(w, sub);
    out[key] = w.out;
  }
  void phases(const char* key, std::vector<PhaseConfig>& phases, const char*) {
    out[key] = json::array();
    for (PhaseConfig& p : phases) {
      Writer w;
      fields(w, p);
      out[key].push_back(w.out);
    }
  }
};

}  // namespace

std::string to_string(NormPlacement v) {
  return enum_name(config_fields::kPlacements, v);
}
std::string to_string(NormType v) {
  return enum_name(config_fields::kNormTypes, v);
}
std::string to_string(Injection v) {
  return enum_name(config_fields::kInjections, v);
}
std::string to_string(Positions v) {
  return enum_name(config_fields::kPositions, v);
}
std::string to_string(MlpKind v) {
  return enum_name(config_fields::kMlps, v);
}
std::string to_string(SamplerKind v) {
  return enum_name(config_fields::kSamplers, v);
}
std::string to_string(JacobianProduct v) {
  return enum_name(config_fields::kProducts, v);
}
std::string to_string(PowerIterationNorm v) {
  return enum_name(config_fields::kPowerIterationNorms, v);
}
std::string to_string(PenaltyKind v) {
  return enum_name(config_fields::kPenalties, v);
}

std::vector<PhaseConfig> Config::default_phases() {
  PhaseConfig fixed;
  fixed.name = "fixed";
  // Until the task is learned at the training depth; 3000 steps is only the upper bound.
  fixed.steps = 3000;
  fixed.until = {0.99, 4, 100, 256};
  fixed.lr = 1e-3;
  fixed.loops.sampler = SamplerKind::fixed;
  fixed.jacobian_penalty.weight = 0.0;
  return {fixed, PhaseConfig{}};
}

int Config::total_steps() const {
  int total = 0;
  for (const auto& p : phases) total += p.steps;
  return total;
}

void to_json(json& j, const Config& c) {
  Config copy = c;  // the field lists take mutable sections; writing changes nothing
  Writer w;
  fields(w, copy);
  j = std::move(w.out);
}

Config config_from_json(const json& j) {
  Config c;
  Reader r(j, "");
  fields(r, c);
  r.finish();
  validate(c);
  return c;
}

Config parse_config(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw ConfigError("config file '" + origin + "' is not valid JSON: " + e.what());
  }
  try {
    return config_from_json(j);
  } catch (const ConfigError& e) {
    throw ConfigError("config file '" + origin + "': " + e.what());
  }
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw ConfigError("cannot open config file '" + path +
                      "': check the path (configs/arith.json is the STARS default)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

void save_config(const Config& c, const std::string& path) {
  // Written beside and renamed into place, so a crash never leaves a half-written config.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw ConfigError("cannot write config file '" + path + "'");
    out << json(c).dump(2) << "\n";
    if (!out.flush()) throw ConfigError("cannot write config file '" + path + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw ConfigError("cannot write config file '" + path + "': " + ec.message());
}

}  // namespace stars
