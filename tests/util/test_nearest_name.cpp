// The flag a misspelt flag most likely meant, for the tools' "did you mean" hints.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stars/util/cli.hpp"

namespace stars {
namespace {

const std::vector<std::string> kEvalFlags{"checkpoint",  "depths", "data",     "device", "digits",
                                          "diagnostics", "diag-n", "exit-tol", "threads"};
const std::vector<std::string> kGenerateFlags{"checkpoint",  "prompt", "depths", "max-tokens",
                                              "temperature", "top-k",  "seed",   "exit-tol"};

TEST(NearestName, FindsTheFlagMeant) {
  EXPECT_EQ(nearest_name("depth", kEvalFlags), "depths");
  EXPECT_EQ(nearest_name("max-new", kGenerateFlags), "max-tokens");
  EXPECT_EQ(nearest_name("checkpiont", kEvalFlags), "checkpoint");
  EXPECT_EQ(nearest_name("exit_tol", kEvalFlags), "exit-tol");
  EXPECT_EQ(nearest_name("temprature", kGenerateFlags), "temperature");
}

TEST(NearestName, SuggestsNothingWhenNothingIsClose) {
  EXPECT_EQ(nearest_name("bogus", kEvalFlags), "");
  EXPECT_EQ(nearest_name("x", kGenerateFlags), "");
  EXPECT_EQ(nearest_name("depth", {}), "");
}

}  // namespace
}  // namespace stars
