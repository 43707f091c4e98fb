#include <gtest/gtest.h>

#include "stars/config/errors.hpp"
#include "stars/eval/depth_spec.hpp"

namespace stars {
namespace {

TEST(DepthSpec, AcceptsRangesStepsListsAndMixtures) {
  EXPECT_EQ(parse_depths("1..4"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(parse_depths("0..10:5"), (std::vector<int>{0, 5, 10}));
  EXPECT_EQ(parse_depths("1,2,4,8"), (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(parse_depths("1..3,16, 32,2"), (std::vector<int>{1, 2, 3, 16, 32}));
  EXPECT_EQ(parse_depths("7"), (std::vector<int>{7}));
  EXPECT_EQ(parse_depths("1..64").size(), 64u);
}

TEST(DepthSpec, RejectsInvalidSpecsQuotingThem) {
  for (const char* bad :
       {"", "a", "1..", "..4", "4..1", "1..8:0", "1,,2", "-3", "1.5", "1..4:x", "9999999"}) {
    try {
      parse_depths(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("accepted"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace stars
