// Models in the Hugging Face layout of Ouro's checkpoints: written by stars, read back
// tensor for tensor, and hostile directories refused naming what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <tuple>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"
#include "stars/data/bpe_tokenizer.hpp"
#include "stars/data/text.hpp"
#include "stars/model/exit_gate.hpp"
#include "stars/train/hf_checkpoint.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// A stars config whose model is Ouro-shaped, with or without GQA and the exit gate.
Config ouro_config(int layers, int kv_heads, bool exit_gate, bool tied_head = false) {
  Config cfg;
  cfg.model = testing::ouro_tiny_model(layers, kv_heads);
  cfg.model.exit_gate = exit_gate;
  cfg.model.tied_head = tied_head;
  return cfg;
}

LoopLM build(const Config& cfg) {
  torch::manual_seed(7);
  LoopLM model(cfg.model, tokenizer_for(cfg.data).vocab_size());
  // Norm weights start at one; random ones make a swapped norm visible.
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
  return model;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("stars_hf_test_" + name);
  fs::remove_all(dir);
  return dir;
}

void expect_same_parameters(LoopLM& a, LoopLM& b, double tol = 0) {
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) {
    ASSERT_TRUE(pb.contains(p.key())) << p.key();
    EXPECT_LE((p.value() - pb[p.key()]).abs().max().item<double>(), tol) << p.key();
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream(path) << j.dump(2);
}

TEST(HfCheckpoint, ExportReadsBackTensorForTensorWithTheSameLogitsAtEveryLoop) {
  for (const auto& [layers, kv, gate] : {std::tuple{1, 2, true}, std::tuple{3, 4, false}}) {
    const Config cfg = ouro_config(layers, kv, gate);
    LoopLM model = build(cfg);
    const fs::path dir = fresh_dir("roundtrip");
    export_hf_model(model, cfg, dir.string());
    ASSERT_TRUE(is_hf_model_dir(dir.string()));
    LoadedModel back = load_model(dir.string(), torch::kCPU);
    expect_same_parameters(model, back.model);
    EXPECT_EQ(json(back.config), json(cfg));
    const torch::Tensor tokens = torch::randint(0, model->vocab_size(), {2, 9}, torch::kLong);
    for (int loops = 1; loops <= 4; ++loops)
      EXPECT_TRUE(torch::equal(model->forward(tokens, loops).logits,
                               back.model->forward(tokens, loops).logits))
          << loops;
    const json config = read_json(dir / "config.json");
    EXPECT_EQ(config["num_key_value_heads"], kv);
    EXPECT_EQ(config["num_hidden_layers"], layers);
    EXPECT_EQ(config["model_type"], "ouro");
  }
}

TEST(HfCheckpoint, TensorsHaveOurosNamesAndQkvSplitsIntoItsThreeProjections) {
  const Config cfg = ouro_config(2, 2, true);
  LoopLM model = build(cfg);
  const fs::path dir = fresh_dir("names");
  export_hf_model(model, cfg, dir.string());
  // Rewrite the file's q/k/v by hand from stars' qkv: the reader must stack them back.
  std::ifstream in(dir / "model.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const auto file = safetensors::parse(bytes, "model.safetensors");
  std::set<std::string> names;
  for (const auto& e : file.entries) names.insert(e.name);
  for (const char* name :
       {"model.embed_tokens.weight", "model.layers.1.self_attn.k_proj.weight",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.input_layernorm_2.weight",
        "model.layers.1.post_attention_layernorm_2.weight", "model.norm.weight",
        "model.early_exit_gate.bias", "lm_head.weight"})
    EXPECT_TRUE(names.count(name)) << name;
  // 1 embedding + 2 layers x 11 + norm + gate weight and bias + head.
  EXPECT_EQ(names.size(), 1u + 2 * 11 + 1 + 2 + 1);
}

TEST(HfCheckpoint, HalfPrecisionExportsReadBackAsTheRoundedWeights) {
  const Config cfg = ouro_config(1, 2, true);
  LoopLM model = build(cfg);
  for (const auto& [dtype, type] : {std::pair{safetensors::DType::BF16, torch::kBFloat16},
                                    std::pair{safetensors::DType::F16, torch::kHalf}}) {
    const fs::path dir = fresh_dir("half");
    HfExportOptions options;
    options.dtype = dtype;
    export_hf_model(model, cfg, dir.string(), options);
    LoadedModel back = load_model(dir.string(), torch::kCPU);
    for (const auto& p : model->named_parameters())
      EXPECT_TRUE(torch::equal(p.value().to(type).to(torch::kFloat),
                               back.model->named_parameters()[p.key()]))
          << p.key();
  }
}

TEST(HfCheckpoint, ShardedExportWritesAnIndexAndReadsBack) {
  const Config cfg = ouro_config(3, 2, true);
  LoopLM model = build(cfg);
  const fs::path dir = fresh_dir("sharded");
  HfExportOptions options;
  options.shard_bytes = 4096;
  export_hf_model(model, cfg, dir.string(), options);
  ASSERT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  const json index = read_json(dir / "model.safetensors.index.json");
  std::set<std::string> files;
  for (const auto& [tensor, file] : index["weight_map"].items()) files.insert(file);
  EXPECT_GT(files.size(), 2u);
  LoadedModel back = load_model(dir.string(), torch::kCPU);
  expect_same_parameters(model, back.model);
  // A shard the index does not account for, or a file name outside the directory: refused.
  json bad = index;
  bad["weight_map"]["model.norm.weight"] = "../model.safetensors";
  write_json(dir / "model.safetensors.index.json", bad);
  EXPECT_NE(error_of([&] {
              load_model(dir.string(), torch::kCPU);
            }).find("\"../model.safetensors\" must name a file in the model's directory"),
            std::string::npos);
  bad = index;
  bad["weight_map"].erase("model.norm.weight");
  write_json(dir / "model.safetensors.index.json", bad);
  EXPECT_NE(error_of([&] {
              load_model(dir.string(), torch::kCPU);
            }).find("holds tensor 'model.norm.weight', which"),
            std::string::npos);
}

TEST(HfCheckpoint, InitTakesTheModelFromConfigJsonAndCopiesEveryWeight) {
  const Config cfg = ouro_config(2, 2, true, /*tied_head=*/true);
  LoopLM model = build(cfg);
  const fs::path dir = fresh_dir("init");
  export_hf_model(model, cfg, dir.string());
  // Without the stars config, as in Ouro's own config.json: the model settings still come
  // from its keys, and evaluation, which needs the task, is refused naming the key.
  json config = read_json(dir / "config.json");
  config.erase("stars");
  write_json(dir / "config.json", config);
  const ModelConfig settings = hf_model_config(dir.string());
  Config from_dir;
  from_dir.model = settings;
  EXPECT_EQ(json(from_dir)["model"], json(cfg)["model"]);
  LoopLM fresh(settings, model->vocab_size());
  load_hf_weights(dir.string(), fresh);
  expect_same_parameters(model, fresh);
  EXPECT_NE(error_of([&] { load_model(dir.string(), torch::kCPU); }).find("no \"stars\" config"),
            std::string::npos);
}

TEST(HfCheckpoint, AModelThatDoesNotFitTheWeightsIsLeftAsItWas) {
  // Every parameter is checked against the files before any is read: a refused --init
  // leaves no half-copied model behind.
  const Config cfg = ouro_config(2, 2, true);
  LoopLM model = build(cfg);
  const fs::path dir = fresh_dir("misfit");
  export_hf_model(model, cfg, dir.string());
  for (const Config& other : {ouro_config(3, 2, true), ouro_config(1, 2, true)}) {
    torch::manual_seed(8);
    LoopLM target(other.model, model->vocab_size());
    std::vector<torch::Tensor> before;
    for (const auto& p : target->parameters()) before.push_back(p.clone());
    EXPECT_NE(error_of([&] { load_hf_weights(dir.string(), target); }), "");
    const auto after = target->parameters();
    for (std::size_t i = 0; i < before.size(); ++i)
      EXPECT_TRUE(torch::equal(after[i], before[i])) << "parameter " << i << " was written";
  }
}

TEST(HfCheckpoint, APretrainedDirectoryWithATokenizerLoadsAsAChatModel) {
  // As Ouro's own directory: no stars config, a tokenizer.json, and a vocabulary padded past
  // the tokenizer's ids.
  Config cfg = ouro_config(1, 2, true);
  const std::string tokenizer =
      std::string(STARS_SOURCE_DIR) + "/tests/fixtures/bpe/chatml-tiny/tokenizer.json";
  const std::int64_t padded = BpeTokenizer::load(tokenizer).vocab_size() + 8;
  // A directory as a Hugging Face model ships: its config.json without stars' own section,
  // and the tokenizer beside the weights.
  const auto pretrained_dir = [&](LoopLM& m, const std::string& name) {
    const fs::path dir = fresh_dir(name);
    export_hf_model(m, cfg, dir.string());
    json config = read_json(dir / "config.json");
    config.erase("stars");
    write_json(dir / "config.json", config);
    fs::copy_file(tokenizer, dir / "tokenizer.json");
    return dir;
  };
  torch::manual_seed(7);
  LoopLM model(cfg.model, padded);
  const fs::path dir = pretrained_dir(model, "chat");
  LoadedModel loaded = load_model(dir.string(), torch::kCPU);
  EXPECT_EQ(loaded.config.data.task, "chat");
  EXPECT_EQ(loaded.config.data.tokenizer, dir.string());
  expect_same_parameters(model, loaded.model);
  // A vocabulary smaller than the tokenizer's ids cannot be this tokenizer's model.
  LoopLM small(cfg.model, padded - 16);
  const fs::path small_dir = pretrained_dir(small, "chat_small");
  EXPECT_NE(error_of([&] {
              load_model(small_dir.string(), torch::kCPU);
            }).find("but the model's tokenizer has"),
            std::string::npos);
}

TEST(HfCheckpoint, HostileDirectoriesAreRefusedNamingTheKeyOrTensor) {
  const Config cfg = ouro_config(1, 2, false);
  LoopLM model = build(cfg);
  const fs::path dir = fresh_dir("hostile");
  export_hf_model(model, cfg, dir.string());
  const json good = read_json(dir / "config.json");
  auto load_error = [&](const json& config) {
    write_json(dir / "config.json", config);
    return error_of([&] { load_model(dir.string(), torch::kCPU); });
  };
  json j = good;
  j["sliding_windows"] = 4;
  EXPECT_NE(load_error(j).find("unknown key sliding_windows"), std::string::npos);
  j = good;
  j["hidden_act"] = "gelu";
  EXPECT_NE(load_error(j).find("\"hidden_act\" = \"gelu\""), std::string::npos);
  // Without the "stars" config (as in Ouro's own files) the tensors are checked against the
  // Ouro keys alone.
  json ouro = good;
  ouro.erase("stars");
  j = ouro;
  j["intermediate_size"] = 25;  // the tensors are 24 wide
  EXPECT_NE(load_error(j).find("tensor 'model.layers.0.mlp.gate_proj.weight' is [24, 16]"),
            std::string::npos);
  j = good;
  j["stars"]["model"]["d_ff"] = 25;
  EXPECT_NE(load_error(j).find("model.d_ff is 25 under \"stars\" and 24 by the Ouro keys"),
            std::string::npos);
  j = good;
  j["hidden_size"] = "16";
  EXPECT_NE(load_error(j).find("\"hidden_size\" = \"16\" must be an integer"), std::string::npos);
  j = ouro;
  j["tie_word_embeddings"] = true;  // then lm_head.weight is one tensor too many
  EXPECT_NE(load_error(j).find("does not have: lm_head.weight"), std::string::npos);
  j = ouro;
  j["num_hidden_layers"] = 2;
  EXPECT_NE(load_error(j).find("no tensor 'model.layers.1.self_attn.q_proj.weight'"),
            std::string::npos);
}

TEST(HfCheckpoint, ExportRefusesAModelTheLayoutCannotHold) {
  Config cfg = ouro_config(1, 2, false);
  cfg.model.positions = Positions::learned;
  LoopLM model = build(cfg);
  EXPECT_NE(error_of([&] {
              export_hf_model(model, cfg, fresh_dir("refused").string());
            }).find("model.positions = learned (the layout needs rope)"),
            std::string::npos);
}

TEST(ExitGate, DistributionIsTheSurvivalProductWithTheLastLoopTakingTheRest) {
  const torch::Tensor l1 = torch::tensor({{0.2, 0.9}}), l2 = torch::tensor({{0.5, 0.1}}),
                      l3 = torch::tensor({{0.3, 0.7}});
  const torch::Tensor p = exit_distribution({l1, l2, l3});
  ASSERT_EQ(p.sizes(), (std::vector<std::int64_t>{3, 1, 2}));
  EXPECT_TRUE(torch::allclose(p[0], l1));
  EXPECT_TRUE(torch::allclose(p[1], l2 * (1 - l1)));
  EXPECT_TRUE(torch::allclose(p[2], (1 - l1) * (1 - l2)));  // not l3: the rest of the mass
  EXPECT_TRUE(torch::allclose(p.sum(0), torch::ones({1, 2})));
  Config cfg = ouro_config(1, 2, true);
  LoopLM model = build(cfg);
  const torch::Tensor state = torch::randn({2, 5, cfg.model.d_model});
  const torch::Tensor lambda = exit_probability(model, state);
  EXPECT_EQ(lambda.sizes(), (std::vector<std::int64_t>{2, 5}));
  EXPECT_TRUE(torch::allclose(lambda, torch::sigmoid(model->exit_gate(state)).squeeze(-1)));
  cfg.model.exit_gate = false;
  LoopLM no_gate = build(cfg);
  EXPECT_THROW(exit_probability(no_gate, state), std::invalid_argument);
}

}  // namespace
}  // namespace stars
