#include "stars/eval/depth_spec.hpp"

#include <algorithm>
#include <cctype>

#include "stars/config/errors.hpp"

namespace stars {
namespace {

constexpr int kMaxDepth = 100000;

[[noreturn]] void fail(const std::string& spec, const std::string& why) {
  throw ConfigError("depth spec \"" + spec + "\": " + why +
                    "; accepted: N, A..B, A..B:STEP and comma-separated mixtures, e.g. "
                    "1..64, 0..100:2, 1,2,4,8 or 1..8,16,32,64 (depths >= 0)");
}

int parse_int(const std::string& text, const std::string& spec) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
    fail(spec, "'" + text + "' is not a non-negative integer");
  if (text.size() > 6 || std::stoi(text) > kMaxDepth)
    fail(spec, "'" + text + "' exceeds the maximum depth " + std::to_string(kMaxDepth));
  return std::stoi(text);
}

void add_item(const std::string& item, const std::string& spec, std::vector<int>& out) {
  const auto dots = item.find("..");
  if (dots == std::string::npos) {
    out.push_back(parse_int(item, spec));
    return;
  }
  const int lo = parse_int(item.substr(0, dots), spec);
  std::string rest = item.substr(dots + 2);
  int step = 1;
  if (const auto colon = rest.find(':'); colon != std::string::npos) {
    step = parse_int(rest.substr(colon + 1), spec);
    rest = rest.substr(0, colon);
    if (step == 0) fail(spec, "step must be >= 1 in '" + item + "'");
  }
  const int hi = parse_int(rest, spec);
  if (hi < lo) fail(spec, "range '" + item + "' ends before it starts");
  for (int d = lo; d <= hi; d += step) out.push_back(d);
}

}  // namespace

std::vector<int> parse_depths(const std::string& spec) {
  std::string s;
  for (char c : spec)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  if (s.empty()) fail(spec, "it is empty");
  std::vector<int> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto comma = s.find(',', start);
    const std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) fail(spec, "empty item between commas");
    add_item(item, spec, out);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace stars
