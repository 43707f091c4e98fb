// The AdamW update's kernels: the multi-tensor one equals LibTorch's per-parameter step,
// shares its state (so checkpoints resume under either), and train.adamw resolves per device.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "stars/config/errors.hpp"
#include "stars/train/adamw_update.hpp"

namespace stars {
namespace {

/// Parameters of a few shapes (a matrix, a vector, a scalar), the same for every seed.
std::vector<torch::Tensor> make_params(std::uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({7, 5}).requires_grad_(), torch::randn({5}).requires_grad_(),
          torch::randn({}).requires_grad_()};
}

torch::optim::AdamW make_adamw(const std::vector<torch::Tensor>& params) {
  torch::optim::AdamWOptions options(3e-2);
  options.weight_decay(0.1);
  options.betas({0.9, 0.95});
  return torch::optim::AdamW(params, options);
}

/// Step `step`'s gradients: the same on every call; parameter 1 has none at step 2.
void set_gradients(std::vector<torch::Tensor>& params, int step) {
  torch::manual_seed(1000 + step);
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto& grad = params[i].mutable_grad();
    grad = (step == 2 && i == 1) ? torch::Tensor() : torch::randn_like(params[i]);
  }
}

void run_steps(std::vector<torch::Tensor>& params, torch::optim::AdamW& adamw, AdamWKernel kernel,
               int from, int to) {
  for (int step = from; step < to; ++step) {
    set_gradients(params, step);
    adamw_update(adamw, kernel);
  }
}

void expect_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::equal(a[i], b[i]))
        << "parameter " << i << " differs by " << (a[i] - b[i]).abs().max().item<double>();
}

TEST(AdamWUpdate, ForeachEqualsLibTorchsStepIncludingAParameterWithoutGradient) {
  auto loop_params = make_params(1), foreach_params = make_params(1);
  auto loop = make_adamw(loop_params), foreach = make_adamw(foreach_params);
  run_steps(loop_params, loop, AdamWKernel::loop, 0, 6);
  run_steps(foreach_params, foreach, AdamWKernel::foreach, 0, 6);
  // The same arithmetic in the same order on the CPU: equal to the bit, not just close.
  expect_equal(loop_params, foreach_params);
  // The skipped parameter's state counted one step fewer, as in LibTorch's step.
  const auto& state = static_cast<torch::optim::AdamWParamState&>(
      *foreach.state().at(optimizer_state_key(foreach_params[1])));
  EXPECT_EQ(state.step(), 5);
  // The key is the one LibTorch's own step files a parameter's state under.
  EXPECT_EQ(loop.state().count(optimizer_state_key(loop_params[0])), 1u);
}

TEST(AdamWUpdate, ForeachStateResumesUnderTheLoopKernelAndFromASavedOptimizer) {
  auto reference_params = make_params(2);
  auto reference = make_adamw(reference_params);
  run_steps(reference_params, reference, AdamWKernel::loop, 0, 6);

  // Three foreach steps, the optimiser saved and loaded into a fresh one, three loop steps.
  auto params = make_params(2);
  auto first = make_adamw(params);
  run_steps(params, first, AdamWKernel::foreach, 0, 3);
  std::stringstream saved;
  {
    torch::serialize::OutputArchive archive;
    first.save(archive);
    archive.save_to(saved);
  }
  auto second = make_adamw(params);
  torch::serialize::InputArchive archive;
  archive.load_from(saved);
  second.load(archive);
  run_steps(params, second, AdamWKernel::loop, 3, 6);
  expect_equal(reference_params, params);
}

TEST(AdamWUpdate, ResolvesAutoPerDeviceAndRefusesWhatCannotRun) {
  const torch::Device cpu(torch::kCPU);
  EXPECT_EQ(resolve_adamw_kernel("auto", cpu), AdamWKernel::loop);
  EXPECT_EQ(resolve_adamw_kernel("foreach", cpu), AdamWKernel::foreach);
  EXPECT_EQ(resolve_adamw_kernel("loop", cpu), AdamWKernel::loop);
  try {
    resolve_adamw_kernel("fused", cpu);
    FAIL() << "fused accepted on the CPU";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("train.adamw = fused on cpu"), std::string::npos) << what;
    EXPECT_NE(what.find("use"), std::string::npos) << what;  // says what would run
  }
  EXPECT_THROW(resolve_adamw_kernel("adam", cpu), ConfigError);
  // The CUDA choice is a property of the LibTorch build, checked without a GPU.
  const AdamWKernel on_cuda = resolve_adamw_kernel("auto", torch::Device(torch::kCUDA));
  EXPECT_EQ(on_cuda,
            adamw_kernel_unavailable_reason(AdamWKernel::fused, torch::Device(torch::kCUDA)).empty()
                ? AdamWKernel::fused
                : AdamWKernel::foreach);
}

}  // namespace
}  // namespace stars
