#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"

namespace stars {
namespace {

using nlohmann::json;

/// The ConfigError message produced by `f`, or "" if it did not throw one.
template <typename F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, RoundTripThroughJsonAndFile) {
  Config c;
  c.model.d_model = 96;
  c.model.norm_placement = NormPlacement::pre_sandwich;
  c.phases[1].jacobian_penalty.normalize = PowerIterationNorm::per_sample;
  c.eval.monitor_depths = {1, 7};
  const json j = c;
  EXPECT_EQ(json(config_from_json(j)), j);
  const auto path = (std::filesystem::temp_directory_path() / "stars_cfg_roundtrip.json").string();
  save_config(c, path);
  EXPECT_EQ(json(load_config(path)), j);
}

/// The keys of a JSON object, sorted.
std::vector<std::string> keys_of(const json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

using Keys = std::vector<std::string>;

TEST(Config, PrintedConfigShowsOnlyTheKeysThatAct) {
  Config c;  // phase 0: fixed depth, no penalty, a goal; phase 1: lognormal, square penalty
  c.phases[1].loops.n = 7;  // idle under the lognormal sampler
  const json shown = applicable_config_json(c);
  const json& fixed = shown["phases"][0];
  const json& stars = shown["phases"][1];
  EXPECT_EQ(keys_of(fixed["loops"]), (Keys{"backprop_depth", "n", "sampler"}));
  EXPECT_EQ(keys_of(fixed["jacobian_penalty"]), (Keys{"weight"}));
  EXPECT_EQ(keys_of(fixed["until"]), (Keys{"accuracy", "depth", "every", "n"}));
  EXPECT_EQ(keys_of(stars["loops"]),
            (Keys{"backprop_depth", "max", "min", "mu", "sampler", "sigma"}));
  EXPECT_EQ(stars["jacobian_penalty"].count("target"), 0u);
  EXPECT_EQ(stars["jacobian_penalty"]["weight"], 0.1);
  EXPECT_EQ(keys_of(stars["until"]), (Keys{"accuracy"}));
  EXPECT_EQ(shown["model"], json(c)["model"]);

  // Read back, the printed config is the same run: it prints the same keys and values.
  EXPECT_EQ(applicable_config_json(config_from_json(shown)), shown);

  c.phases[1].jacobian_penalty.penalty = PenaltyKind::hinge;
  c.phases[1].loops.sampler = SamplerKind::poisson;
  const json hinge = applicable_config_json(c)["phases"][1];
  EXPECT_EQ(hinge["jacobian_penalty"].count("target"), 1u);
  EXPECT_EQ(keys_of(hinge["loops"]), (Keys{"backprop_depth", "lambda", "max", "min", "sampler"}));

  c.phases[1].loops.per_difficulty = 2;  // loops tied to difficulty: shown once switched on
  EXPECT_EQ(applicable_config_json(c)["phases"][1]["loops"]["per_difficulty"], 2.0);
}

TEST(Config, DefaultIsTheStarsCurriculum) {
  const Config c;
  ASSERT_EQ(c.phases.size(), 2u);
  EXPECT_EQ(c.phases[0].loops.sampler, SamplerKind::fixed);
  EXPECT_EQ(c.phases[0].jacobian_penalty.weight, 0.0);
  EXPECT_EQ(c.phases[1].loops.sampler, SamplerKind::lognormal);
  EXPECT_DOUBLE_EQ(c.phases[1].loops.mu, 2.0);
  EXPECT_DOUBLE_EQ(c.phases[1].loops.sigma, 0.7);
  EXPECT_EQ(c.phases[1].loops.max, 100);
  EXPECT_DOUBLE_EQ(c.phases[1].jacobian_penalty.weight, 0.1);
  EXPECT_EQ(c.model.norm_placement, NormPlacement::post_sandwich);
}

TEST(Config, UnknownKeyNamesPathAndValidKeys) {
  const auto msg = config_error([] { config_from_json(json{{"model", {{"d_modle", 3}}}}); });
  EXPECT_NE(msg.find("model.d_modle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("d_model"), std::string::npos) << msg;
  EXPECT_NE(config_error([] {
              config_from_json(json{{"modle", json::object()}});
            }).find("modle"),
            std::string::npos);
}

TEST(Config, APhaseThatSetsLoopsNamesItsSampler) {
  const auto msg = config_error([] {
    config_from_json(
        json{{"phases", {{{"loops", {{"sampler", "fixed"}, {"n", 2}}}}, {{"loops", {{"n", 8}}}}}}});
  });
  EXPECT_NE(msg.find("phases.1.loops"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no sampler"), std::string::npos) << msg;
  const Config c =
      config_from_json(json{{"phases", {{{"loops", {{"sampler", "fixed"}, {"n", 8}}}}}}});
  EXPECT_EQ(c.phases[0].loops.n, 8);
}

TEST(Config, MonitorDepthsTakeAListOneDepthOrADepthSpec) {
  EXPECT_EQ(config_from_json(json{{"eval", {{"monitor_depths", 4}}}}).eval.monitor_depths,
            (std::vector<int>{4}));
  EXPECT_EQ(config_from_json(json{{"eval", {{"monitor_depths", {4, 32}}}}}).eval.monitor_depths,
            (std::vector<int>{4, 32}));
  EXPECT_EQ(config_from_json(json{{"eval", {{"monitor_depths", "1..3,8"}}}}).eval.monitor_depths,
            (std::vector<int>{1, 2, 3, 8}));
  const auto msg = config_error([] {
    config_from_json(json{{"eval", {{"monitor_depths", "1..x"}}}});
  });
  EXPECT_NE(msg.find("eval.monitor_depths"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesPathAndValue) {
  const auto msg = config_error([] { config_from_json(json{{"model", {{"d_model", "big"}}}}); });
  EXPECT_NE(msg.find("model.d_model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("big"), std::string::npos) << msg;
  EXPECT_NE(config_error([] {
              config_from_json(json{{"train", {{"batch", 1.5}}}});
            }).find("train.batch"),
            std::string::npos);
}

TEST(Config, OutOfRangeNamesPathAndValue) {
  const auto msg = config_error([] { config_from_json(json{{"model", {{"d_model", -8}}}}); });
  EXPECT_NE(msg.find("model.d_model = -8"), std::string::npos) << msg;
  const auto heads = config_error([] { config_from_json(json{{"model", {{"n_heads", 5}}}}); });
  EXPECT_NE(heads.find("model.n_heads"), std::string::npos) << heads;
  json phases = json::array({{{"loops", {{"sampler", "uniform"}, {"min", 5}, {"max", 2}}}}});
  const auto loops = config_error([&] { config_from_json(json{{"phases", phases}}); });
  EXPECT_NE(loops.find("phases.0.loops.max"), std::string::npos) << loops;
}

TEST(Config, PhaseGoalAndInitScaleRoundTripAndAreRangeChecked) {
  Config c;
  c.model.init_std = 0.05;
  c.phases[0].until = {0.99, 4, 100, 256};
  const json j = c;
  const Config back = config_from_json(j);
  EXPECT_DOUBLE_EQ(back.model.init_std, 0.05);
  EXPECT_DOUBLE_EQ(back.phases[0].until.accuracy, 0.99);
  EXPECT_EQ(back.phases[0].until.every, 100);
  auto phase0 = [](json until) {
    return config_error([&] { config_from_json(json{{"phases", {{{"until", until}}}}}); });
  };
  EXPECT_EQ(phase0({{"accuracy", 0.9}, {"depth", 2}}), "");
  EXPECT_NE(phase0({{"accuracy", 1.5}}).find("phases.0.until.accuracy = 1.5"), std::string::npos);
  EXPECT_NE(phase0({{"every", 0}}).find("phases.0.until.every = 0"), std::string::npos);
  EXPECT_NE(phase0({{"acuracy", 0.9}}).find("phases.0.until.acuracy"), std::string::npos);
  const auto init = config_error([] { config_from_json(json{{"model", {{"init_std", 0}}}}); });
  EXPECT_NE(init.find("model.init_std = 0"), std::string::npos) << init;
}

TEST(Config, BatchShardsNeedNoDropoutAndFitTheBatch) {
  auto with = [](double dropout, int shards) {
    return config_error([&] {
      config_from_json(json{{"model", {{"dropout", dropout}}},
                            {"train", {{"batch", 8}, {"batch_shards", shards}}}});
    });
  };
  EXPECT_EQ(with(0.0, 2), "");
  EXPECT_EQ(with(0.1, 1), "");
  EXPECT_EQ(with(0.1, 0), "");  // automatic sharding stays off with dropout
  const auto msg = with(0.1, 2);
  EXPECT_NE(msg.find("train.batch_shards"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dropout"), std::string::npos) << msg;
  EXPECT_NE(with(0.0, 9).find("train.batch_shards = 9"), std::string::npos);
}

TEST(Config, UnknownEnumListsValidNames) {
  const auto msg = config_error([] {
    config_from_json(json{{"model", {{"norm_type", "batchnorm"}}}});
  });
  EXPECT_NE(msg.find("model.norm_type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("batchnorm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layernorm, rmsnorm, simplenorm"), std::string::npos) << msg;
}

TEST(Config, WarnsAboutAPenaltyThatNeverStartsAndAnOverlongWarmup) {
  EXPECT_TRUE(config_warnings(Config{}).empty());
  Config c;
  c.phases[1].steps = 200;  // below the penalty's start_step of 300
  c.phases[0].warmup = 5000;
  const auto warnings = config_warnings(c);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("phases.0.warmup = 5000"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("phases.1.jacobian_penalty.start_step = 300 is not below "
                             "phases.1.steps = 200"),
            std::string::npos)
      << warnings[1];
  c.phases[1].jacobian_penalty.weight = 0;  // no penalty: nothing to warn about
  c.phases[0].warmup = 100;
  EXPECT_TRUE(config_warnings(c).empty());
}

TEST(Config, TheJacobianPenaltyIsReadUnderItsOldNameToo) {
  const json old_form{{"phases", {{{"reg", {{"weight", 0.2}, {"product", "jvp"}}}}}}};
  const Config c = config_from_json(old_form);
  EXPECT_DOUBLE_EQ(c.phases[0].jacobian_penalty.weight, 0.2);
  EXPECT_EQ(c.phases[0].jacobian_penalty.product, JacobianProduct::jvp);
  EXPECT_TRUE(json(c)["phases"][0].contains("jacobian_penalty"));  // written under the new name
  EXPECT_FALSE(json(c)["phases"][0].contains("reg"));
  const json both{
      {"phases", {{{"reg", {{"weight", 0.2}}}, {"jacobian_penalty", {{"weight", 0.3}}}}}}};
  EXPECT_NE(config_error([&] { config_from_json(both); }).find("phases.0.reg is the old name"),
            std::string::npos);
  const Config set = apply_overrides(Config{}, {"phases.1.reg.weight=0.4"});
  EXPECT_DOUBLE_EQ(set.phases[1].jacobian_penalty.weight, 0.4);
  EXPECT_NE(config_error([] {
              config_from_json(json{{"phases", {{{"reg", {{"weight", 2}}}}}}});
            }).find("phases.0.jacobian_penalty.weight = 2 is out of range: must be in [0, 1)"),
            std::string::npos);
}

TEST(Config, TheReferenceListsEveryKeyWithItsDefault) {
  const std::string doc = config_reference();
  const json defaults = Config{};
  for (const char* section : {"model", "data", "train", "eval"})
    for (const auto& [key, value] : defaults[section].items())
      EXPECT_NE(doc.find("| `" + std::string(section) + "." + key + "` | `" + value.dump() + "`"),
                std::string::npos)
          << section << "." << key;
  for (const auto& [key, value] : defaults["phases"][1].items()) {
    if (value.is_object()) {
      for (const auto& [sub, v] : value.items())
        EXPECT_NE(doc.find("| `phases.N." + key + "." + sub + "` | `" + v.dump() + "`"),
                  std::string::npos)
            << key << "." << sub;
    } else {
      EXPECT_NE(doc.find("| `phases.N." + key + "` | `" + value.dump() + "`"), std::string::npos)
          << key;
    }
  }
}

TEST(Config, OverridesApplyWithTheSameChecks) {
  Config c =
      apply_overrides(Config{}, {"model.d_model=256", "model.n_heads=8", "model.norm_placement=pre",
                                 "phases.1.jacobian_penalty.weight=0.3"});
  EXPECT_EQ(c.model.d_model, 256);
  EXPECT_EQ(c.model.norm_placement, NormPlacement::pre);
  EXPECT_DOUBLE_EQ(c.phases[1].jacobian_penalty.weight, 0.3);
  EXPECT_EQ(apply_overrides(Config{}, {"eval.depths=4"}).eval.depths, "4");  // string field
  EXPECT_NE(
      config_error([] { apply_overrides(Config{}, {"model.d_modl=3"}); }).find("model.d_modl"),
      std::string::npos);
  EXPECT_NE(
      config_error([] { apply_overrides(Config{}, {"model.d_model=abc"}); }).find("model.d_model"),
      std::string::npos);
  EXPECT_NE(config_error([] { apply_overrides(Config{}, {"phases.5.lr=1"}); }).find("phases.5"),
            std::string::npos);
  EXPECT_NE(
      config_error([] { apply_overrides(Config{}, {"no-equals-sign"}); }).find("key.path=value"),
      std::string::npos);
}

TEST(Config, MissingOrBrokenFileNamesThePath) {
  EXPECT_NE(
      config_error([] { load_config("/nonexistent/cfg.json"); }).find("/nonexistent/cfg.json"),
      std::string::npos);
  const auto path = (std::filesystem::temp_directory_path() / "stars_cfg_broken.json").string();
  std::ofstream(path) << "{\"model\": {\"d_model\": 3,}";
  EXPECT_NE(config_error([&] { load_config(path); }).find(path), std::string::npos);
}

}  // namespace
}  // namespace stars

namespace stars {
namespace {

// Inputs found by the fuzzers (fuzz/): each once escaped as a non-stars exception.
TEST(Config, FuzzFindingsAreConfigErrors) {
  EXPECT_NE(config_error([] { parse_config(R"({"model": {"d_model": 1e999999}})", "f.json"); }),
            "");
  EXPECT_NE(config_error([] { parse_config(" 88888888888888888888888888e8888888", "f.json"); }),
            "");
  EXPECT_NE(
      config_error([] { apply_overrides(Config{}, {"phases.0.name=\xf3\x33"}); }).find("UTF-8"),
      std::string::npos);
  EXPECT_NE(config_error([] {
              apply_overrides(Config{}, {"model.d_model.x=1"});
            }).find("'model.d_model' is a value"),
            std::string::npos);
  EXPECT_NE(config_error([] { apply_overrides(Config{}, {"phases.99999999999999999999.lr=1"}); }),
            "");
}

TEST(Config, ShippedConfigsLoadAndArithIsTheEmbeddedDefault) {
  const std::string dir = STARS_SOURCE_DIR "/configs/";
  EXPECT_EQ(json(load_config(dir + "arith.json")), json(Config{}));
  for (const char* name : {"baseline-fixed.json", "baseline-random.json", "tiny.json", "quick.json",
                           "chain.json", "list_end.json", "list_end_mixed.json", "text.json",
                           "ouro-tiny.json", "ouro-chat-small.json"})
    EXPECT_NO_THROW(load_config(dir + name)) << name;
  // The Ouro preset sets every option of Ouro's architecture.
  const ModelConfig ouro = load_config(dir + "ouro-tiny.json").model;
  EXPECT_EQ(ouro.positions, Positions::rope);
  EXPECT_EQ(ouro.mlp, MlpKind::swiglu);
  EXPECT_EQ(ouro.norm_type, NormType::rmsnorm);
  EXPECT_EQ(ouro.norm_placement, NormPlacement::pre_sandwich);
  EXPECT_TRUE(ouro.norm_in_loop);
  EXPECT_FALSE(ouro.bias);
  EXPECT_FALSE(ouro.tied_head);
  EXPECT_LT(ouro.n_kv_heads, ouro.n_heads);
}

TEST(Config, OuroNuminaHoldsThePublishedRecipe) {
  const Config c = load_config(STARS_SOURCE_DIR "/configs/ouro-numina.json");
  EXPECT_EQ(c.data.task, "chat");
  EXPECT_EQ(c.data.seq_len, 2048);
  const PhaseConfig& p = c.phases.at(0);
  EXPECT_EQ(p.loops.sampler, SamplerKind::lognormal);  // t = round(exp(1.7 + 0.4 z)) in [1, 16]
  EXPECT_DOUBLE_EQ(p.loops.mu, 1.7);
  EXPECT_DOUBLE_EQ(p.loops.sigma, 0.4);
  EXPECT_EQ(p.loops.min, 1);
  EXPECT_EQ(p.loops.max, 16);
  EXPECT_DOUBLE_EQ(p.jacobian_penalty.weight, 0.1);  // (1 - 0.1) CE + 0.1 R from the start
  EXPECT_EQ(p.jacobian_penalty.start_step, 0);
  EXPECT_DOUBLE_EQ(p.lr, 1e-6);
  EXPECT_EQ(p.lr_schedule, LrSchedule::wsd);
  EXPECT_DOUBLE_EQ(p.decay_fraction, 0.1);
  EXPECT_EQ(p.warmup * 10, p.steps);  // 10% warm-up
  EXPECT_DOUBLE_EQ(c.train.min_lr_ratio, 0.001);
  EXPECT_DOUBLE_EQ(c.train.adam_beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.train.adam_beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.train.weight_decay, 0.0);
  EXPECT_EQ(c.train.batch * c.train.accumulation, 256);  // 1 row x 32 steps x 8 GPUs
  EXPECT_EQ(c.train.precision, "bf16");
}

}  // namespace
}  // namespace stars
