#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/config/errors.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/io/safetensors.hpp"
#include "stars/train/safetensors_model.hpp"

namespace stars {
namespace fs = std::filesystem;
namespace {

using safetensors::Blob;
using safetensors::DType;

Config small_config() {
  return apply_overrides(Config{}, {"model.d_model=16", "model.n_heads=2", "model.d_ff=24",
                                    "model.inject=concat", "model.n_coda_layers=1"});
}

LoopLM small_model(const Config& cfg) {
  torch::manual_seed(3);
  return LoopLM(cfg.model, Tokenizer::arithmetic().vocab_size());
}

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "stars_safetensors_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The message of the DataError that loading `bytes` throws, or "" when it loads.
std::string load_error(const std::string& bytes) {
  try {
    load_model_safetensors_bytes(bytes, "test.safetensors", "", torch::kCPU);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

/// A valid file's tensors as blobs, for tests to damage.
std::vector<Blob> model_blobs(LoopLM& model) {
  std::vector<Blob> blobs;
  for (const auto& p : model->named_parameters()) {
    const auto t = p.value().detach().contiguous();
    blobs.push_back({p.key(), DType::F32, t.sizes().vec(),
                     std::string(static_cast<const char*>(t.data_ptr()), t.numel() * 4)});
  }
  return blobs;
}

std::map<std::string, std::string> with_config(const Config& cfg) {
  return {{"stars.config", nlohmann::json(cfg).dump()}};
}

TEST(Safetensors, AModelRoundTripsWithItsConfigAndStep) {
  const Config cfg = small_config();
  LoopLM model = small_model(cfg);
  const std::string path = temp_path("model.safetensors");
  save_model_safetensors(model, cfg, 42, path);
  const LoadedModel loaded = load_model_safetensors(path, torch::kCPU);
  EXPECT_EQ(nlohmann::json(loaded.config), nlohmann::json(cfg));
  EXPECT_EQ(loaded.step, 42);
  const auto a = model->named_parameters(), b = loaded.model->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  // The header is 8-byte aligned and the file is exactly header + data.
  const safetensors::File file = safetensors::parse(read_file(path), path);
  EXPECT_EQ(file.data_start % 8, 0u);
  EXPECT_EQ(file.entries.size(), a.size());
}

TEST(Safetensors, FromDiskTheHeaderAloneGivesTheLayoutAndAShortFileIsRefused) {
  const Config cfg = small_config();
  LoopLM model = small_model(cfg);
  const std::string path = temp_path("cut.safetensors");
  save_model_safetensors(model, cfg, 1, path);
  const std::string bytes = read_file(path);
  const auto whole = safetensors::parse(bytes, path);
  const std::string head = bytes.substr(0, safetensors::header_end(bytes.substr(0, 8)));
  ASSERT_LT(head.size(), bytes.size());
  const auto layout = safetensors::parse_header(head, bytes.size(), path);
  EXPECT_EQ(layout.data_start, whole.data_start);
  ASSERT_EQ(layout.entries.size(), whole.entries.size());
  for (std::size_t i = 0; i < whole.entries.size(); ++i)
    EXPECT_EQ(layout.entries[i].end, whole.entries[i].end) << whole.entries[i].name;
  EXPECT_THROW(safetensors::parse_header(head.substr(0, 20), bytes.size(), path), DataError);
  // Four bytes cut off the end, and no checksum beside it: the header's ranges, checked
  // against the file's size, refuse it before any tensor is read.
  fs::remove(path + ".sum");
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 4));
  try {
    load_model_safetensors(path, torch::kCPU);
    FAIL() << "a file 4 bytes short was loaded";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("not a valid safetensors file"), std::string::npos)
        << e.what();
  }
}

TEST(Safetensors, InitReadsTheWeightsIntoAModelOfTheSameShape) {
  const Config cfg = small_config();
  LoopLM source = small_model(cfg);
  const std::string path = temp_path("init.safetensors");
  save_model_safetensors(source, cfg, 0, path);
  torch::manual_seed(99);
  LoopLM target(cfg.model, Tokenizer::arithmetic().vocab_size());
  load_weights_safetensors(path, target);
  EXPECT_TRUE(torch::equal(target->tok_emb->weight, source->tok_emb->weight));
  LoopLM other(apply_overrides(cfg, {"model.d_ff=32"}).model, Tokenizer::arithmetic().vocab_size());
  try {
    load_weights_safetensors(path, other);
    FAIL() << "a model of another shape accepted the weights";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("core.0.fc.weight' is [24, 16] there and [32, 16]"),
              std::string::npos)
        << e.what();
  }
}

TEST(Safetensors, HostileHeadersAreRefusedWithWhatIsWrong) {
  const Config cfg = small_config();
  LoopLM model = small_model(cfg);
  const std::string good = safetensors::serialize(model_blobs(model), with_config(cfg));
  ASSERT_EQ(load_error(good), "");
  EXPECT_NE(load_error("short").find("shorter than the 8-byte header length"), std::string::npos);
  std::string too_long = good;
  too_long[5] = '\x7f';  // header length far beyond the file
  EXPECT_NE(load_error(too_long).find("exceeds the file"), std::string::npos);
  std::string not_json = good;
  not_json[8] = '[';
  not_json[9] = '!';
  EXPECT_NE(load_error(not_json).find("header is not JSON"), std::string::npos);
  EXPECT_NE(load_error(good.substr(0, good.size() - 4)).find("lie outside the"), std::string::npos);
  EXPECT_NE(load_error(good + "xxxx").find("4 bytes after the last tensor"), std::string::npos);
}

TEST(Safetensors, TensorsThatDoNotFitTheirHeaderOrTheModelAreRefused) {
  const Config cfg = small_config();
  LoopLM model = small_model(cfg);
  auto blobs = model_blobs(model);
  auto damaged = [&](auto change) {
    auto copy = blobs;
    change(copy);
    return load_error(safetensors::serialize(copy, with_config(cfg)));
  };
  EXPECT_NE(damaged([](auto& b) { b[0].shape[0] += 1; }).find("need"), std::string::npos);
  EXPECT_NE(damaged([](auto& b) { b[1].dtype = DType::I32; }).find("weights must be F32"),
            std::string::npos);
  EXPECT_NE(damaged([](auto& b) { b.pop_back(); }).find("has no tensor"), std::string::npos);
  EXPECT_NE(damaged([](auto& b) {
              b.push_back({"extra", DType::F32, {1}, std::string(4, '\0')});
            }).find("does not have: extra"),
            std::string::npos);
  EXPECT_NE(damaged([](auto& b) {
              for (auto& blob : b)  // the same bytes as [D, 3D] instead of [3D, D]
                if (blob.name == "core.0.attn.qkv.weight") std::swap(blob.shape[0], blob.shape[1]);
            }).find("is [16, 48] there and [48, 16]"),
            std::string::npos);
  // Without a config in the metadata (and none beside the file) there is no model to build.
  EXPECT_NE(load_error(safetensors::serialize(blobs, {})).find("no 'stars.config'"),
            std::string::npos);
  // F16 weights are widened to float32.
  auto half = blobs;
  for (auto& b : half) {
    const auto t = torch::from_blob(b.data.data(), b.shape, torch::kFloat).to(torch::kHalf);
    b.dtype = DType::F16;
    b.data.assign(static_cast<const char*>(t.data_ptr()), t.numel() * 2);
  }
  EXPECT_EQ(load_error(safetensors::serialize(half, with_config(cfg))), "");
}

}  // namespace
}  // namespace stars
