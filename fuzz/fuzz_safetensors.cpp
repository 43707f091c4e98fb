// Fuzzes the safetensors model reader: the input is the bytes of a model.safetensors (the
// header's lengths, offsets, dtypes and shapes, the config in its metadata, the tensors).
// Any input loads a model that runs, or gives one of stars' own errors.
#include <torch/torch.h>

#include "fuzz_contract.hpp"
#include "stars/train/safetensors_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return stars::fuzz::check(data, size, [&](const std::string& bytes) {
    stars::LoadedModel loaded =
        stars::load_model_safetensors_bytes(bytes, "fuzz.safetensors", "", torch::kCPU);
    const auto out = loaded.model->forward(torch::tensor({{1, 2, 3}}, torch::kLong), 2);
    if (out.logits.size(2) != loaded.model->vocab_size()) __builtin_trap();
  });
}
