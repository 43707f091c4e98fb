#include "stars/config/config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "json_reader.hpp"
#include "stars/config/enum_names.hpp"

namespace stars {
namespace {

using detail::JsonReader;
using nlohmann::json;

constexpr EnumTable<NormPlacement, 4> kPlacements{
    {{NormPlacement::pre, "pre"},
     {NormPlacement::post, "post"},
     {NormPlacement::pre_sandwich, "pre_sandwich"},
     {NormPlacement::post_sandwich, "post_sandwich"}}};
constexpr EnumTable<NormType, 3> kNormTypes{{{NormType::layernorm, "layernorm"},
                                             {NormType::rmsnorm, "rmsnorm"},
                                             {NormType::simplenorm, "simplenorm"}}};
constexpr EnumTable<Injection, 3> kInjections{
    {{Injection::none, "none"}, {Injection::add, "add"}, {Injection::concat, "concat"}}};
constexpr EnumTable<SamplerKind, 4> kSamplers{{{SamplerKind::fixed, "fixed"},
                                               {SamplerKind::uniform, "uniform"},
                                               {SamplerKind::poisson, "poisson"},
                                               {SamplerKind::lognormal, "lognormal"}}};
constexpr EnumTable<Product, 2> kProducts{{{Product::vjp, "vjp"}, {Product::jvp, "jvp"}}};
constexpr EnumTable<PowerNorm, 2> kPowerNorms{
    {{PowerNorm::global, "global"}, {PowerNorm::per_sample, "per_sample"}}};
constexpr EnumTable<PenaltyKind, 2> kPenalties{
    {{PenaltyKind::square, "square"}, {PenaltyKind::hinge, "hinge"}}};

template <typename E, std::size_t N>
auto parser(const EnumTable<E, N>& table) {
  return [&table](const std::string& name, const std::string& where) {
    return parse_enum(table, name, where);
  };
}

void read_model(const json& j, const std::string& path, ModelConfig& m) {
  JsonReader r(j, path);
  r.read("d_model", m.d_model);
  r.read("n_heads", m.n_heads);
  r.read("d_ff", m.d_ff);
  r.read("n_core_layers", m.n_core_layers);
  r.read("n_prelude_layers", m.n_prelude_layers);
  r.read("n_coda_layers", m.n_coda_layers);
  r.read_with("norm_placement", m.norm_placement, parser(kPlacements));
  r.read_with("norm_type", m.norm_type, parser(kNormTypes));
  r.read_with("inject", m.inject, parser(kInjections));
  r.read("dropout", m.dropout);
  r.read("max_len", m.max_len);
  r.read("init_std", m.init_std);
  r.finish();
}

void read_loops(const json& j, const std::string& path, LoopsConfig& l) {
  JsonReader r(j, path);
  r.read_with("sampler", l.sampler, parser(kSamplers));
  r.read("n", l.n);
  r.read("min", l.min);
  r.read("max", l.max);
  r.read("mu", l.mu);
  r.read("sigma", l.sigma);
  r.read("lambda", l.lambda);
  r.read("backprop_depth", l.backprop_depth);
  r.finish();
}

void read_reg(const json& j, const std::string& path, RegConfig& g) {
  JsonReader r(j, path);
  r.read("weight", g.weight);
  r.read("start_step", g.start_step);
  r.read_with("product", g.product, parser(kProducts));
  r.read("iters", g.iters);
  r.read_with("normalize", g.normalize, parser(kPowerNorms));
  r.read_with("penalty", g.penalty, parser(kPenalties));
  r.read("target", g.target);
  r.finish();
}

void read_until(const json& j, const std::string& path, UntilConfig& u) {
  JsonReader r(j, path);
  r.read("accuracy", u.accuracy);
  r.read("depth", u.depth);
  r.read("every", u.every);
  r.read("n", u.n);
  r.finish();
}

void read_phase(const json& j, const std::string& path, PhaseConfig& p) {
  JsonReader r(j, path);
  r.read("name", p.name);
  r.read("steps", p.steps);
  r.read("lr", p.lr);
  r.read("warmup", p.warmup);
  r.read("clip", p.clip);
  r.read_object("loops", p.loops, read_loops);
  r.read_object("reg", p.reg, read_reg);
  r.read_object("until", p.until, read_until);
  r.finish();
}

void read_train(const json& j, const std::string& path, TrainConfig& t) {
  JsonReader r(j, path);
  r.read("batch", t.batch);
  r.read("weight_decay", t.weight_decay);
  r.read("adam_beta1", t.adam_beta1);
  r.read("adam_beta2", t.adam_beta2);
  r.read("min_lr_ratio", t.min_lr_ratio);
  r.read("seed", t.seed);
  r.read("log_every", t.log_every);
  r.read("eval_every", t.eval_every);
  r.read("eval_n", t.eval_n);
  r.read("checkpoint_every", t.checkpoint_every);
  r.read("keep_checkpoints", t.keep_checkpoints);
  r.read("max_bad_steps", t.max_bad_steps);
  r.read("device", t.device);
  r.read("threads", t.threads);
  r.read("batch_shards", t.batch_shards);
  r.read("dist_backend", t.dist_backend);
  r.read("dist_timeout_s", t.dist_timeout_s);
  r.finish();
}

void read_data(const json& j, const std::string& path, DataConfig& d) {
  JsonReader r(j, path);
  r.read("task", d.task);
  r.read("digits", d.digits);
  r.read("min_difficulty", d.min_difficulty);
  r.read("max_difficulty", d.max_difficulty);
  r.read("train_file", d.train_file);
  r.finish();
}

void read_eval(const json& j, const std::string& path, EvalConfig& e) {
  JsonReader r(j, path);
  r.read("depths", e.depths);
  r.read("monitor_depths", e.monitor_depths);
  r.read("n", e.n);
  r.read("seed", e.seed);
  r.read("batch", e.batch);
  r.finish();
}

void read_phases(const json& j, const std::string& path, std::vector<PhaseConfig>& phases) {
  if (!j.is_array() || j.empty())
    throw ConfigError(path + ": expected a non-empty array of phase objects, got " +
                      j.dump(-1, ' ', false, json::error_handler_t::replace));
  phases.clear();
  for (std::size_t i = 0; i < j.size(); ++i) {
    PhaseConfig p;  // each phase starts from the phase defaults
    read_phase(j[i], path + "." + std::to_string(i), p);
    phases.push_back(p);
  }
}

json phase_json(const PhaseConfig& p) {
  const LoopsConfig& l = p.loops;
  const RegConfig& g = p.reg;
  return {{"name", p.name},
          {"steps", p.steps},
          {"lr", p.lr},
          {"warmup", p.warmup},
          {"clip", p.clip},
          {"loops",
           {{"sampler", to_string(l.sampler)},
            {"n", l.n},
            {"min", l.min},
            {"max", l.max},
            {"mu", l.mu},
            {"sigma", l.sigma},
            {"lambda", l.lambda},
            {"backprop_depth", l.backprop_depth}}},
          {"reg",
           {{"weight", g.weight},
            {"start_step", g.start_step},
            {"product", to_string(g.product)},
            {"iters", g.iters},
            {"normalize", to_string(g.normalize)},
            {"penalty", to_string(g.penalty)},
            {"target", g.target}}},
          {"until",
           {{"accuracy", p.until.accuracy},
            {"depth", p.until.depth},
            {"every", p.until.every},
            {"n", p.until.n}}}};
}

}  // namespace

std::string to_string(NormPlacement v) {
  return enum_name(kPlacements, v);
}
std::string to_string(NormType v) {
  return enum_name(kNormTypes, v);
}
std::string to_string(Injection v) {
  return enum_name(kInjections, v);
}
std::string to_string(SamplerKind v) {
  return enum_name(kSamplers, v);
}
std::string to_string(Product v) {
  return enum_name(kProducts, v);
}
std::string to_string(PowerNorm v) {
  return enum_name(kPowerNorms, v);
}
std::string to_string(PenaltyKind v) {
  return enum_name(kPenalties, v);
}

std::vector<PhaseConfig> Config::default_phases() {
  PhaseConfig fixed;
  fixed.name = "fixed";
  // Until the task is learned at the training depth; 3000 steps is only the upper bound.
  fixed.steps = 3000;
  fixed.until = {0.99, 4, 100, 256};
  fixed.lr = 1e-3;
  fixed.loops.sampler = SamplerKind::fixed;
  fixed.reg.weight = 0.0;
  return {fixed, PhaseConfig{}};
}

int Config::total_steps() const {
  int total = 0;
  for (const auto& p : phases) total += p.steps;
  return total;
}

void to_json(json& j, const Config& c) {
  const ModelConfig& m = c.model;
  j = json{{"model",
            {{"d_model", m.d_model},
             {"n_heads", m.n_heads},
             {"d_ff", m.d_ff},
             {"n_core_layers", m.n_core_layers},
             {"n_prelude_layers", m.n_prelude_layers},
             {"n_coda_layers", m.n_coda_layers},
             {"norm_placement", to_string(m.norm_placement)},
             {"norm_type", to_string(m.norm_type)},
             {"inject", to_string(m.inject)},
             {"dropout", m.dropout},
             {"max_len", m.max_len},
             {"init_std", m.init_std}}},
           {"data",
            {{"task", c.data.task},
             {"digits", c.data.digits},
             {"min_difficulty", c.data.min_difficulty},
             {"max_difficulty", c.data.max_difficulty},
             {"train_file", c.data.train_file}}},
           {"train",
            {{"batch", c.train.batch},
             {"weight_decay", c.train.weight_decay},
             {"adam_beta1", c.train.adam_beta1},
             {"adam_beta2", c.train.adam_beta2},
             {"min_lr_ratio", c.train.min_lr_ratio},
             {"seed", c.train.seed},
             {"log_every", c.train.log_every},
             {"eval_every", c.train.eval_every},
             {"eval_n", c.train.eval_n},
             {"checkpoint_every", c.train.checkpoint_every},
             {"keep_checkpoints", c.train.keep_checkpoints},
             {"max_bad_steps", c.train.max_bad_steps},
             {"device", c.train.device},
             {"threads", c.train.threads},
             {"batch_shards", c.train.batch_shards},
             {"dist_backend", c.train.dist_backend},
             {"dist_timeout_s", c.train.dist_timeout_s}}},
           {"phases", json::array()},
           {"eval",
            {{"depths", c.eval.depths},
             {"monitor_depths", c.eval.monitor_depths},
             {"n", c.eval.n},
             {"seed", c.eval.seed},
             {"batch", c.eval.batch}}}};
  for (const auto& p : c.phases) j["phases"].push_back(phase_json(p));
}

Config config_from_json(const json& j) {
  Config c;
  JsonReader r(j, "");
  r.read_object("model", c.model, read_model);
  r.read_object("data", c.data, read_data);
  r.read_object("train", c.train, read_train);
  r.read_any("phases", c.phases, read_phases);
  r.read_object("eval", c.eval, read_eval);
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
