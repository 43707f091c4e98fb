#include <gtest/gtest.h>

#include "stars/config/errors.hpp"
#include "stars/util/fault.hpp"

namespace stars::fault {
namespace {

TEST(Fault, ParsesEachFormWithAndWithoutARank) {
  const Plan s = parse("signal@step:100");
  EXPECT_EQ(s.kind, Kind::signal);
  EXPECT_EQ(s.where, Where::step);
  EXPECT_EQ(s.step, 100);
  EXPECT_EQ(s.rank, -1);
  const Plan st = parse("stall@step:20@rank:1");
  EXPECT_EQ(st.kind, Kind::stall);
  EXPECT_EQ(st.rank, 1);
  const Plan c = parse("exit@checkpoint:7");
  EXPECT_EQ(c.kind, Kind::exit);
  EXPECT_EQ(c.where, Where::checkpoint);
  EXPECT_EQ(c.step, 7);
  EXPECT_EQ(parse("fail@checkpoint:50").kind, Kind::fail);
  EXPECT_EQ(parse("exit@step:3@rank:0").rank, 0);
}

TEST(Fault, RefusesAnythingElseNamingTheValidForms) {
  for (const char* bad :
       {"", "signal", "signal@step", "signal@step:-1", "signal@step:x", "crash@step:3",
        "stall@checkpoint:3", "exit@step:3@rank:", " exit@step:3"}) {
    try {
      parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("STARS_FAULT='"), std::string::npos) << e.what();
    }
  }
}

TEST(Fault, UnsetMeansNoFaultAndQueriesAreNoOps) {
  // The suite runs without STARS_FAULT; a step or checkpoint query must then do nothing.
  ASSERT_EQ(plan().kind, Kind::none);
  after_step(1, 0);
  checkpoint_written("/nonexistent", 1);
  SUCCEED();
}

}  // namespace
}  // namespace stars::fault
