// Ouro's tensor names and shapes against stars' parameters (docs/pretrained.md, "Tensors").
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before {fmt} 11)
#include <torch/torch.h>

#include "hf_layout.hpp"
#include "stars/config/errors.hpp"

namespace stars::hf {
namespace {

using Shape = std::vector<std::int64_t>;

/// One stars parameter and the Hugging Face tensors it is made of (q, k and v stack into
/// qkv along the output rows; every other parameter is one tensor).
struct Link {
  std::string stars;
  std::vector<std::pair<std::string, Shape>> hf;
};

std::vector<Link> links(const ModelConfig& m, std::int64_t vocab_size) {
  const std::int64_t d = m.d_model, f = m.d_ff;
  const std::int64_t kv = (m.n_kv_heads > 0 ? m.n_kv_heads : m.n_heads) * (d / m.n_heads);
  std::vector<Link> out{{"tok_emb.weight", {{"model.embed_tokens.weight", {vocab_size, d}}}}};
  for (int i = 0; i < m.n_core_layers; ++i) {
    const std::string hf = fmt::format("model.layers.{}.", i), st = fmt::format("core.{}.", i);
    out.push_back({st + "attn.qkv.weight",
                   {{hf + "self_attn.q_proj.weight", {d, d}},
                    {hf + "self_attn.k_proj.weight", {kv, d}},
                    {hf + "self_attn.v_proj.weight", {kv, d}}}});
    out.push_back({st + "attn.proj.weight", {{hf + "self_attn.o_proj.weight", {d, d}}}});
    out.push_back({st + "gate.weight", {{hf + "mlp.gate_proj.weight", {f, d}}}});
    out.push_back({st + "up.weight", {{hf + "mlp.up_proj.weight", {f, d}}}});
    out.push_back({st + "down.weight", {{hf + "mlp.down_proj.weight", {d, f}}}});
    out.push_back({st + "norm1_in.weight", {{hf + "input_layernorm.weight", {d}}}});
    out.push_back({st + "norm1_out.weight", {{hf + "input_layernorm_2.weight", {d}}}});
    out.push_back({st + "norm2_in.weight", {{hf + "post_attention_layernorm.weight", {d}}}});
    out.push_back({st + "norm2_out.weight", {{hf + "post_attention_layernorm_2.weight", {d}}}});
  }
  out.push_back({"norm_f.weight", {{"model.norm.weight", {d}}}});
  if (m.exit_gate) {
    out.push_back({"exit_gate.weight", {{"model.early_exit_gate.weight", {1, d}}}});
    out.push_back({"exit_gate.bias", {{"model.early_exit_gate.bias", {1}}}});
  }
  if (!m.tied_head) out.push_back({"head.weight", {{"lm_head.weight", {vocab_size, d}}}});
  return out;
}

std::string shape_text(c10::IntArrayRef shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

WeightPlan plan_stars_weights(const std::map<std::string, Shape>& hf, const ModelConfig& model,
                              std::int64_t vocab_size, const std::string& origin) {
  WeightPlan out;
  std::size_t used = 0;
  for (const Link& link : links(model, vocab_size)) {
    StarsWeight& weight = out[link.stars];
    for (const auto& [name, shape] : link.hf) {
      const auto it = hf.find(name);
      if (it == hf.end())
        throw DataError(
            fmt::format("'{}': no tensor '{}'; the model its config.json describes "
                        "needs it",
                        origin, name));
      if (it->second != shape)
        throw DataError(fmt::format("'{}': tensor '{}' is {}; its config.json makes it {}", origin,
                                    name, shape_text(it->second), shape_text(shape)));
      const std::int64_t row = weight.shape.empty() ? 0 : weight.shape[0];
      weight.parts.push_back({name, row, shape[0]});
      if (weight.shape.empty())
        weight.shape = shape;
      else
        weight.shape[0] += shape[0];
      ++used;
    }
  }
  if (used != hf.size()) {
    std::vector<std::string> unknown;
    std::set<std::string> known;
    for (const Link& link : links(model, vocab_size))
      for (const auto& part : link.hf) known.insert(part.first);
    for (const auto& [name, shape] : hf)
      if (!known.count(name)) unknown.push_back(name);
    throw DataError(
        fmt::format("'{}': tensors the model its config.json describes does not "
                    "have: {}",
                    origin, fmt::join(unknown, ", ")));
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> to_hf(
    const std::map<std::string, torch::Tensor>& stars, const ModelConfig& model) {
  const std::int64_t vocab_size = stars.at("tok_emb.weight").size(0);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const Link& link : links(model, vocab_size)) {
    const torch::Tensor& whole = stars.at(link.stars);
    std::int64_t row = 0;
    for (const auto& [name, shape] : link.hf) {
      out.emplace_back(name, link.hf.size() == 1 ? whole : whole.narrow(0, row, shape[0]));
      row += shape[0];
    }
  }
  return out;
}

}  // namespace stars::hf
