#include "stars/train/loop_sampler.hpp"

#include <algorithm>
#include <cmath>

#include "stars/util/rng.hpp"

namespace stars {
namespace {

int clamp_loops(double v, const LoopsConfig& c) {
  return static_cast<int>(std::clamp(v, static_cast<double>(c.min), static_cast<double>(c.max)));
}

}  // namespace

int sample_loops(const LoopsConfig& cfg, std::uint64_t seed, std::uint64_t step) {
  Rng rng(seed, step, RngStream::loops);
  switch (cfg.sampler) {
    case SamplerKind::fixed:
      return cfg.n;
    case SamplerKind::uniform:
      return static_cast<int>(rng.uniform_int(cfg.min, cfg.max));
    case SamplerKind::poisson:
      return clamp_loops(static_cast<double>(rng.poisson(cfg.lambda)), cfg);
    case SamplerKind::lognormal:
      return clamp_loops(std::round(std::exp(cfg.mu + cfg.sigma * rng.normal())), cfg);
  }
  return cfg.n;
}

DifficultyRange step_difficulty(const LoopsConfig& cfg, DifficultyRange phase_range,
                                std::uint64_t seed, std::uint64_t step) {
  if (cfg.per_difficulty <= 0) return phase_range;
  Rng rng(seed, step, RngStream::difficulty);
  const auto d = static_cast<int>(rng.uniform_int(phase_range.lo, phase_range.hi));
  return {d, d};
}

int step_loops(const LoopsConfig& cfg, DifficultyRange batch, std::uint64_t seed,
               std::uint64_t step) {
  const int drawn = sample_loops(cfg, seed, step);
  if (cfg.per_difficulty <= 0) return drawn;
  return std::max(drawn, static_cast<int>(std::ceil(cfg.per_difficulty * batch.hi - 1e-9)));
}

double expected_loops(const LoopsConfig& cfg) {
  switch (cfg.sampler) {
    case SamplerKind::fixed:
      return cfg.n;
    case SamplerKind::uniform:
      return 0.5 * (cfg.min + cfg.max);
    case SamplerKind::poisson: {
      double p = std::exp(-cfg.lambda), mean = 0, cdf = 0;
      for (int k = 0; k < cfg.max + 1000; ++k) {
        mean += p * clamp_loops(k, cfg);
        cdf += p;
        p *= cfg.lambda / (k + 1);
      }
      return mean + (1 - cdf) * cfg.max;
    }
    case SamplerKind::lognormal: {
      // Integrate over z ~ N(0, 1) on a fine grid.
      double mean = 0, mass = 0;
      for (double z = -8; z <= 8; z += 1e-3) {
        const double w = std::exp(-0.5 * z * z);
        mean += w * clamp_loops(std::round(std::exp(cfg.mu + cfg.sigma * z)), cfg);
        mass += w;
      }
      return mean / mass;
    }
  }
  return cfg.n;
}

}  // namespace stars
