// Gradient accumulation and the warmup-stable-decay schedule: micro-batches give the
// gradient of one large batch at a fixed loop count (with and without row shards), each
// micro-batch draws its own loop count, one micro-batch per step trains as before, and the
// WSD learning rate holds, then decays over the last share of the phase.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "stars/data/batch.hpp"
#include "stars/train/micro_batch.hpp"
#include "stars/train/schedule.hpp"
#include "stars/train/trainer.hpp"
#include "test_support.hpp"

namespace stars {
namespace {

std::vector<torch::Tensor> gradients(LoopLM& model, const std::function<void()>& backward) {
  for (auto& p : model->parameters()) p.mutable_grad().reset();
  backward();
  std::vector<torch::Tensor> out;
  for (auto& p : model->parameters()) out.push_back(p.grad().clone());
  return out;
}

TEST(Accumulation, MicroBatchesGiveTheGradientOfOneLargeBatch) {
  torch::manual_seed(0);
  const Tokenizer tok = Tokenizer::arithmetic();
  LoopLM model(testing::tiny_model(), tok.vocab_size());
  const AdditionTask task(1, 4);  // answers of 2 to 5 digits: micro-batches of unequal tokens
  const std::vector<Example> all = task.sample_batch(9, 5, 0);
  const std::vector<Example> first(all.begin(), all.begin() + 3), rest(all.begin() + 3, all.end());
  const Batch whole = make_batch(all, tok, torch::kCPU);
  const Batch a = make_batch(first, tok, torch::kCPU), b = make_batch(rest, tok, torch::kCPU);
  const double targets = target_tokens(a) + target_tokens(b);
  ASSERT_EQ(targets, target_tokens(whole));
  ASSERT_NE(target_tokens(a) / 3, target_tokens(b) / 6);  // a plain mean of means would differ
  ObjectiveOptions opts;
  opts.forward.n_loops = 3;
  const auto params = model->parameters();

  double whole_loss = 0, accumulated_loss = 0;
  const auto expected = gradients(model, [&] {
    whole_loss = backward_micro_batch(model, whole, opts, 1, {}, 0.0, params).loss;
  });
  for (int shards : {1, 2}) {
    const auto got = gradients(model, [&] {
      accumulated_loss = 0;
      for (const Batch* micro : {&a, &b})
        accumulated_loss +=
            backward_micro_batch(model, *micro, opts, shards, {targets, 2 * shards}, 0.0, params)
                .loss;
    });
    EXPECT_NEAR(accumulated_loss, whole_loss, 1e-5) << shards << " shards";
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(torch::allclose(got[i], expected[i], 1e-4, 1e-6))
          << "parameter " << i << ", " << shards << " shards: max difference "
          << (got[i] - expected[i]).abs().max().item<double>();
  }
}

TEST(Accumulation, EachMicroBatchDrawsItsOwnLoopCount) {
  Config c = testing::tiny_training_config(8);
  TrainerOptions o;
  o.final_sweep = false;
  Trainer single(c, o, torch::kCPU);
  c.train.accumulation = 4;
  Trainer accumulated(c, o, torch::kCPU);
  bool differ = false;
  for (int s = 0; s < 4; ++s) {
    const StepStats one = single.train_step(s), four = accumulated.train_step(s);
    ASSERT_EQ(one.micro_loops.size(), 1u);
    ASSERT_EQ(four.micro_loops.size(), 4u);
    EXPECT_EQ(four.micro_loops[0], one.loops);  // the first micro-batch is the step's own draw
    EXPECT_EQ(four.loops, four.micro_loops[0]);
    EXPECT_GT(four.tokens, 3 * one.tokens / 2);  // four micro-batches (padded lengths vary)
    for (int loops : four.micro_loops) differ = differ || loops != four.micro_loops[0];
  }
  EXPECT_TRUE(differ) << "four micro-batches over four steps all drew the same loop count";
}

TEST(Schedule, WarmupStableDecayHoldsThenDecaysOverItsShare) {
  PhaseConfig phase;
  phase.steps = 100;
  phase.warmup = 10;
  phase.lr = 1e-3;
  phase.lr_schedule = LrSchedule::wsd;
  phase.decay_fraction = 0.2;
  const PhasePosition at{&phase, 0, 0};
  const double floor = 0.001;
  EXPECT_DOUBLE_EQ(learning_rate(at, 0, floor), 1e-4);  // warmup: (step + 1) / warmup
  for (int s = 10; s < 80; ++s) EXPECT_DOUBLE_EQ(learning_rate(at, s, floor), 1e-3) << s;
  EXPECT_DOUBLE_EQ(learning_rate(at, 80, floor), 1e-3);
  for (int s = 81; s < 100; ++s)
    EXPECT_LT(learning_rate(at, s, floor), learning_rate(at, s - 1, floor));
  const double last = 1e-3 * (floor + (1 - floor) * 0.5 * (1 + std::cos(M_PI * 19.0 / 20.0)));
  EXPECT_NEAR(learning_rate(at, 99, floor), last, 1e-15);
  EXPECT_NEAR(learning_rate(at, 100, floor), 1e-3 * floor, 1e-15);  // past the end: the floor
  phase.lr_schedule = LrSchedule::cosine;  // the default decays from the warmup's end
  EXPECT_LT(learning_rate(at, 50, floor), 1e-3);
}

}  // namespace
}  // namespace stars
