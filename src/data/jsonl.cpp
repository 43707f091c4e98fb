#include "stars/data/jsonl.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"

namespace stars {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, int line_no, const std::string& what) {
  throw DataError(path + ":" + std::to_string(line_no) + ": " + what +
                  "; expected {\"num1\": 1750, \"num2\": 4733, \"answer\": 6483} or "
                  "{\"prompt\": \"1750+4733=\", \"answer\": \"6483\"}");
}

std::string shown(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Operands are bounded so that their sum can never overflow.
constexpr long long kMaxOperand = 1'000'000'000'000'000'000LL;

std::string integer_text(const json& v, const char* key, const std::string& path, int line_no) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.get<unsigned long long>() > kMaxOperand) ||
      v.get<long long>() < 0 || v.get<long long>() > kMaxOperand)
    fail(path, line_no,
         std::string("\"") + key + "\" must be an integer in [0, 10^18], got " + shown(v));
  return std::to_string(v.get<long long>());
}

}  // namespace

Example parse_jsonl_line(const std::string& line, const std::string& path, int line_no) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    fail(path, line_no, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail(path, line_no, "expected a JSON object, got " + shown(j));
  if (j.contains("num1") || j.contains("num2")) {
    if (!j.contains("num1") || !j.contains("num2")) fail(path, line_no, "needs both num1 and num2");
    const std::string a = integer_text(j["num1"], "num1", path, line_no);
    const std::string b = integer_text(j["num2"], "num2", path, line_no);
    const long long sum = std::stoll(a) + std::stoll(b);
    if (j.contains("answer") &&
        integer_text(j["answer"], "answer", path, line_no) != std::to_string(sum))
      fail(path, line_no,
           "answer " + shown(j["answer"]) + " is not num1 + num2 = " + std::to_string(sum));
    return {a + "+" + b + "=", std::to_string(sum)};
  }
  if (!j.contains("prompt") || !j.contains("answer")) fail(path, line_no, "missing keys");
  if (!j["prompt"].is_string()) fail(path, line_no, "\"prompt\" must be a string");
  const json& ans = j["answer"];
  if (!ans.is_string() && !ans.is_number_integer())
    fail(path, line_no, "\"answer\" must be a string or an integer");
  return {j["prompt"].get<std::string>(), ans.is_string() ? ans.get<std::string>() : ans.dump()};
}

std::vector<Example> load_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DataError("cannot open data file '" + path + "': check the path");
  std::vector<Example> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(parse_jsonl_line(line, path, line_no));
  }
  if (out.empty()) throw DataError("data file '" + path + "' holds no problems (empty file)");
  return out;
}

void save_jsonl(const std::vector<Example>& examples, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write data file '" + path + "'");
  for (const auto& ex : examples)
    out << json{{"prompt", ex.prompt}, {"answer", ex.answer}}.dump() << "\n";
}

}  // namespace stars
