// Writes, for every model option, a model and stars' outputs on one batch, for
// parity_with_python.py: OUT/CASE/model.safetensors (random weights, every parameter
// perturbed so that norms are not the identity) and OUT/CASE/expected.pt, a dict Python's
// torch.load reads: the tokens, the logits at 0, 1, 3 and 7 loops, the logits and loops
// used under adaptive exit, and vᵀJ for the core's Jacobian J at 3 loops; with an exit
// gate, the exit distribution over loops 1..4; for Ouro-shaped cases, OUT/CASE/hf, the
// model in the Hugging Face layout.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <torch/torch.h>

#include "stars/config/config.hpp"
#include "stars/data/tokenizer.hpp"
#include "stars/dynamics/jacobian.hpp"
#include "stars/model/exit_gate.hpp"
#include "stars/train/hf_checkpoint.hpp"
#include "stars/train/safetensors_model.hpp"

namespace {

struct Case {
  const char* name;
  std::vector<std::string> settings;  // --set style model.* overrides
  bool hf = false;                    // Ouro-shaped: also written in the Hugging Face layout
};

const std::vector<Case> kCases = {
    {"pre", {"model.norm_placement=pre"}},
    {"post", {"model.norm_placement=post"}},
    {"pre_sandwich", {"model.norm_placement=pre_sandwich"}},
    {"post_sandwich", {"model.norm_placement=post_sandwich"}},
    {"rmsnorm", {"model.norm_type=rmsnorm"}},
    {"simplenorm", {"model.norm_type=simplenorm", "model.norm_placement=pre"}},
    {"inject_add", {"model.inject=add"}},
    {"inject_concat", {"model.inject=concat", "model.norm_placement=pre_sandwich"}},
    {"prelude_core2_coda",
     {"model.n_prelude_layers=1", "model.n_core_layers=2", "model.n_coda_layers=1"}},
    {"rope", {"model.positions=rope", "model.rope_theta=500"}},
    {"swiglu_no_bias", {"model.mlp=swiglu", "model.bias=false"}},
    {"gqa", {"model.n_kv_heads=2"}},
    {"untied_norm_in_loop", {"model.tied_head=false", "model.norm_in_loop=true"}},
    // Ouro's layout: every option of a pretrained LoopLM, with 1 and 3 layers per loop.
    {"ouro_1_layer",
     {"model.positions=rope", "model.mlp=swiglu", "model.bias=false", "model.n_kv_heads=2",
      "model.tied_head=false", "model.norm_in_loop=true", "model.norm_type=rmsnorm",
      "model.norm_placement=pre_sandwich", "model.norm_eps=1e-6"},
     true},
    {"ouro_gate_mha",
     {"model.positions=rope", "model.mlp=swiglu", "model.bias=false", "model.exit_gate=true",
      "model.tied_head=false", "model.norm_in_loop=true", "model.norm_type=rmsnorm",
      "model.norm_placement=pre_sandwich", "model.norm_eps=1e-6", "model.n_core_layers=2"},
     true},
    {"ouro_3_layers",
     {"model.positions=rope", "model.mlp=swiglu", "model.bias=false", "model.n_kv_heads=1",
      "model.tied_head=false", "model.norm_in_loop=true", "model.norm_type=rmsnorm",
      "model.norm_placement=pre_sandwich", "model.norm_eps=1e-6", "model.n_core_layers=3",
      "model.exit_gate=true"},
     true},
};

void write_case(const Case& c, const std::string& dir) {
  std::vector<std::string> settings = {"model.d_model=32", "model.n_heads=4", "model.d_ff=48",
                                       "model.max_len=16"};
  settings.insert(settings.end(), c.settings.begin(), c.settings.end());
  const stars::Config cfg = stars::apply_overrides(stars::Config{}, settings);
  torch::manual_seed(7);
  stars::LoopLM model(cfg.model, stars::Tokenizer::arithmetic().vocab_size());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(0.1 * torch::randn_like(p));
  }
  model->eval();
  std::filesystem::create_directories(dir);
  stars::save_model_safetensors(model, cfg, 0, dir + "/model.safetensors");
  const auto tokens = torch::randint(0, model->vocab_size(), {3, 11}, torch::kLong);
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("tokens", tokens);
  torch::NoGradGuard no_grad;
  for (int loops : {0, 1, 3, 7})
    dict.insert("logits." + std::to_string(loops), model->forward(tokens, loops).logits);
  stars::ForwardOptions adaptive;
  adaptive.n_loops = 7;
  adaptive.exit_tol = 0.2;  // sequences of most options exit at different loops
  const auto out = model->forward(tokens, adaptive);
  dict.insert("logits.exit", out.logits);
  dict.insert("loops_used.exit", out.loops_used);
  // Per-token exit: by residual for every model; by the gate and its expected logits for
  // gated ones.
  std::vector<std::string> rules = {"residual:0.2"};
  if (cfg.model.exit_gate) rules.insert(rules.end(), {"gate:0.6", "expected"});
  for (const auto& rule : rules) {
    stars::ForwardOptions per_token;
    per_token.n_loops = 7;
    per_token.token_exit = stars::parse_token_exit(rule, "parity_dump");
    const auto exited = model->forward(tokens, per_token);
    dict.insert("logits.token_exit." + rule, exited.logits);
    dict.insert("loops.token_exit." + rule, exited.token_loops);
  }
  // A vector-Jacobian product of the core at h_3, the step of every spectral-radius estimate.
  const auto state = model->forward(tokens, 3);
  const auto v = torch::randn_like(state.state);
  dict.insert("vjp.v", v);
  dict.insert("vjp.3", stars::vjp(model->state_map(state.input),
                                  state.state.detach().requires_grad_(true), v));
  if (cfg.model.exit_gate) {  // Ouro's exit distribution over loops 1..4
    stars::ForwardOptions keep;
    keep.n_loops = 4;
    keep.keep_states = true;
    const auto states = model->forward(tokens, keep).states;  // h_0 .. h_4
    std::vector<torch::Tensor> lambdas;
    for (std::size_t t = 1; t < states.size(); ++t)
      lambdas.push_back(stars::exit_probability(model, states[t]));
    dict.insert("exit.p", stars::exit_distribution(lambdas));
  }
  if (c.hf) stars::export_hf_model(model, cfg, dir + "/hf");
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(dir + "/expected.pt", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: parity_dump OUT_DIR\n";
    return 2;
  }
  for (const Case& c : kCases) write_case(c, std::string(argv[1]) + "/" + c.name);
  return 0;
}
