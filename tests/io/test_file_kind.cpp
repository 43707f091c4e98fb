// A file is named for what it is, from its first bytes, whatever its extension.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "stars/io/file_kind.hpp"

namespace stars {
namespace {

std::string write_temp(const std::string& name, const std::string& bytes) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

TEST(FileKind, SniffsFromTheFirstBytes) {
  EXPECT_EQ(sniff_file_kind(write_temp("stars_kind.pt", "  {\"model\": {}}\n")), FileKind::json);
  EXPECT_EQ(sniff_file_kind(write_temp("stars_kind.json", std::string("PK\x03\x04rest", 8))),
            FileKind::zip);
  std::string st(8, '\0');
  st[0] = 2;  // a header of 2 bytes: "{}"
  EXPECT_EQ(sniff_file_kind(write_temp("stars_kind.bin", st + "{}")), FileKind::safetensors);
  EXPECT_EQ(sniff_file_kind(write_temp("stars_kind.txt", "hello\n")), FileKind::text);
  EXPECT_EQ(sniff_file_kind(write_temp("stars_kind.dat", std::string("\x01\x02\x03", 3))),
            FileKind::other);
  EXPECT_EQ(sniff_file_kind(write_temp("stars_kind.empty", "")), FileKind::empty);
  EXPECT_EQ(sniff_file_kind("/nonexistent/stars"), FileKind::missing);
  EXPECT_EQ(sniff_file_kind(std::filesystem::temp_directory_path().string()), FileKind::directory);
}

TEST(FileKind, AJsonFileIsNamedAsAConfigCandidate) {
  EXPECT_EQ(describe(FileKind::json), "a JSON file");
  EXPECT_NE(kind_hint(FileKind::json).find("stars-train --config"), std::string::npos);
}

}  // namespace
}  // namespace stars
