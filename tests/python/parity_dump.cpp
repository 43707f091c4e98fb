// Writes RUN/parity_batch.pt: a fixed batch of addition sequences and stars' logits at a
// depth, as a dict Python's torch.load reads, for parity_with_reference.py.
#include <fstream>
#include <iostream>

#include <torch/torch.h>

#include "stars/data/batch.hpp"
#include "stars/train/checkpoint.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: parity_dump RUN_DIR [LOOPS]\n";
    return 2;
  }
  const std::string run = argv[1];
  const int loops = argc > 2 ? std::stoi(argv[2]) : 4;
  auto loaded = stars::load_model(run, torch::kCPU);
  loaded.model->eval();
  const auto task = stars::make_task(loaded.config.data);
  const auto batch =
      stars::make_batch(task->sample_batch(32, 99, 0), stars::Tokenizer::arithmetic(), torch::kCPU);
  const auto logits = loaded.model->forward(batch.inputs, loops).logits;
  const auto loss = torch::nn::functional::cross_entropy(
      logits.flatten(0, 1), batch.targets.flatten(),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(stars::kIgnoreIndex));
  loss.backward();
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("tokens", batch.inputs);
  dict.insert("targets", batch.targets);
  dict.insert("logits", logits.detach());
  dict.insert("loss", loss.detach());
  for (const auto& p : loaded.model->named_parameters())
    dict.insert("grad." + p.key(), p.value().grad());
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(run + "/parity_batch.pt", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return 0;
}
