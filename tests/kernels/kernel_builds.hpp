#pragma once
// Runs a test suite under each build of stars' per-ISA kernels: the widest this CPU takes,
// then the baseline one (the build CPUs without AVX2 run).
#include <string>

#include <gtest/gtest.h>

#include "kernels/kernel_isa.hpp"

namespace stars::testing {

/// Param: true for the baseline build only.
class EachKernelBuild : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { previous_ = kernels::use_baseline_kernels(GetParam()); }
  void TearDown() override { kernels::use_baseline_kernels(previous_); }

 private:
  bool previous_ = false;
};

inline std::string kernel_build_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Baseline" : "Widest";
}

}  // namespace stars::testing

/// INSTANTIATE_TEST_SUITE_P for a suite derived from EachKernelBuild.
#define STARS_FOR_EACH_KERNEL_BUILD(Suite)                                 \
  INSTANTIATE_TEST_SUITE_P(Kernels, Suite, ::testing::Values(false, true), \
                           ::stars::testing::kernel_build_name)
