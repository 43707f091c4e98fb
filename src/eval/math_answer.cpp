#include "stars/eval/math_answer.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"

namespace stars {
namespace {

// The content of the braces that open at `open` (s[open] == '{'), or nullopt if unbalanced.
std::optional<std::string> braced(std::string_view s, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return std::string(s.substr(open + 1, i - open - 1));
  }
  return std::nullopt;
}

std::optional<std::string> last_boxed(std::string_view s) {
  std::size_t best = std::string_view::npos;
  for (const char* cmd : {"\\boxed", "\\fbox"}) {
    std::size_t at = s.rfind(cmd);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) best = at;
  }
  if (best == std::string_view::npos) return std::nullopt;
  std::size_t i = s.find_first_not_of(' ', best + (s.compare(best, 6, "\\boxed") == 0 ? 6 : 5));
  if (i == std::string_view::npos) return std::nullopt;
  if (s[i] == '{') return braced(s, i);
  std::size_t end = s.find_first_of(" $\n", i);  // "\boxed 5$"
  return std::string(s.substr(i, end == std::string_view::npos ? end : end - i));
}

bool number_char(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ',' || c == '/';
}

std::string last_number(std::string_view s) {
  for (std::size_t end = s.size(); end > 0; --end) {
    if (!std::isdigit(static_cast<unsigned char>(s[end - 1]))) continue;
    std::size_t begin = end;
    while (begin > 0 && number_char(s[begin - 1])) --begin;
    while (begin < end && !std::isdigit(static_cast<unsigned char>(s[begin]))) ++begin;
    if (begin > 0 && s[begin - 1] == '-') --begin;
    return std::string(s.substr(begin, end - begin));
  }
  return "";
}

void erase_all(std::string& s, std::string_view what) {
  for (std::size_t at; (at = s.find(what)) != std::string::npos;) s.erase(at, what.size());
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (std::size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += with.size())
    s.replace(at, what.size(), with);
}

// "\text{cm}" -> "cm" (and \textbf, \mbox): the wrapper goes, the words stay.
void unwrap(std::string& s, std::string_view cmd) {
  for (std::size_t at; (at = s.find(cmd)) != std::string::npos;) {
    std::size_t open = at + cmd.size();
    auto inner = open < s.size() && s[open] == '{' ? braced(s, open) : std::nullopt;
    if (!inner) {
      s.erase(at, cmd.size());
      continue;
    }
    s.replace(at, inner->size() + cmd.size() + 2, *inner);
  }
}

// "\frac12" -> "\frac{1}{2}" and "\frac1{2}" -> "\frac{1}{2}".
void brace_fractions(std::string& s) {
  for (std::size_t at = 0; (at = s.find("\\frac", at)) != std::string::npos; at += 5) {
    std::size_t i = at + 5;
    for (int arg = 0; arg < 2 && i < s.size(); ++arg) {
      if (s[i] == '{') {
        auto inner = braced(s, i);
        if (!inner) return;
        i += inner->size() + 2;
      } else {
        s.insert(i + 1, "}");
        s.insert(i, "{");
        i += 3;
      }
    }
  }
}

struct Rational {
  long long p, q;
};

// A decimal or integer ("-2.50", "1,234") as p/q, without commas in wrong places.
std::optional<Rational> parse_decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = s[0] == '-';
  std::size_t i = negative || s[0] == '+' ? 1 : 0;
  long long p = 0, q = 1;
  bool digits = false, point = false;
  int since_comma = -1;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      constexpr long long kLimit = std::numeric_limits<long long>::max() / 10 - 9;
      if (p > kLimit || q > kLimit) return std::nullopt;  // beyond 64 bits: kept as text
      p = p * 10 + (c - '0');
      if (point) q *= 10;
      digits = true;
      if (since_comma >= 0) ++since_comma;
    } else if (c == ',' && !point && digits && (since_comma < 0 || since_comma == 3)) {
      since_comma = 0;
    } else if (c == '.' && !point) {
      if (since_comma >= 0 && since_comma != 3) return std::nullopt;
      point = true;
      since_comma = -1;
    } else {
      return std::nullopt;
    }
  }
  if (!digits || (since_comma >= 0 && since_comma != 3)) return std::nullopt;
  return Rational{negative ? -p : p, q};
}

// "p/q", "\frac{p}{q}" or a decimal, as a reduced fraction.
std::optional<Rational> parse_rational(const std::string& s) {
  if (!s.empty() && s[0] == '-') {
    auto r = parse_rational(s.substr(1));
    if (r && r->p >= 0) return Rational{-r->p, r->q};
    return std::nullopt;
  }
  std::string num, den;
  if (s.rfind("\\frac{", 0) == 0) {
    auto a = braced(s, 5);
    if (!a || 5 + a->size() + 2 >= s.size() || s[5 + a->size() + 2] != '{') return std::nullopt;
    auto b = braced(s, 5 + a->size() + 2);
    if (!b || 5 + a->size() + b->size() + 4 != s.size()) return std::nullopt;
    num = *a, den = *b;
  } else if (auto slash = s.find('/'); slash != std::string::npos) {
    num = s.substr(0, slash), den = s.substr(slash + 1);
  } else {
    num = s, den = "1";
  }
  auto a = parse_decimal(num), b = parse_decimal(den);
  if (!a || !b || b->p == 0 || a->p < 0 || b->p < 0) return std::nullopt;
  __int128 p = static_cast<__int128>(a->p) * b->q, q = static_cast<__int128>(a->q) * b->p;
  __int128 g = p, h = q;  // (ap/aq) / (bp/bq), reduced by gcd(p, q)
  while (h != 0) g = std::exchange(h, g % h);
  p /= g, q /= g;
  constexpr __int128 kMax = std::numeric_limits<long long>::max();
  if (p > kMax || q > kMax) return std::nullopt;
  return Rational{static_cast<long long>(p), static_cast<long long>(q)};
}

std::string strip(std::string s) {
  for (const char* cmd : {"\\text", "\\textbf", "\\mbox", "\\mathrm"}) unwrap(s, cmd);
  for (const char* gone : {"\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "$", "^\\circ",
                           "^{\\circ}", "\\%", "%", "\\displaystyle"})
    erase_all(s, gone);
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  while (!out.empty() && out.back() == '.') out.pop_back();
  brace_fractions(out);
  if (out.size() > 2 && std::isalpha(static_cast<unsigned char>(out[0])) && out[1] == '=')
    out.erase(0, 2);  // "x=5" -> "5"
  return out;
}

}  // namespace

std::string extract_answer(std::string_view solution) {
  if (auto boxed = last_boxed(solution)) return *boxed;
  return last_number(solution);
}

std::string normalize_answer(std::string_view answer) {
  std::string s = strip(std::string(answer));
  if (auto r = parse_rational(s)) {
    if (r->p == 0) return "0";
    return r->q == 1 ? std::to_string(r->p) : std::to_string(r->p) + "/" + std::to_string(r->q);
  }
  return s;
}

bool answers_match(std::string_view predicted, std::string_view reference) {
  const std::string a = normalize_answer(predicted), b = normalize_answer(reference);
  return !a.empty() && a == b;
}

MathProblem parse_math_row(std::string_view line, const std::string& path, int line_no) {
  const auto where = path + ":" + std::to_string(line_no);
  nlohmann::json row;
  try {
    row = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!row.is_object()) throw DataError(where + ": expected a JSON object");
  auto text = [&](const char* key) -> std::string {
    if (!row.contains(key)) return "";
    if (!row[key].is_string() && !row[key].is_number())
      throw DataError(where + ": \"" + key + "\" must be a string or a number");
    return row[key].is_string() ? row[key].get<std::string>() : row[key].dump();
  };
  MathProblem out;
  if (row.contains("messages")) {
    out.prompt = parse_chat_row(line, path, line_no, /*need_assistant=*/false);
  } else {
    std::string question = text("problem");
    if (question.empty()) question = text("question");
    if (question.empty())
      throw DataError(
          where +
          ": no \"problem\" or \"question\"; a maths problem row is "
          "{\"problem\": ..., \"answer\": ...} or {\"question\": ..., \"answer\": ...}");
    out.prompt = {{"user", question}};
  }
  std::string answer = text("answer");
  if (auto hashes = answer.rfind("####"); hashes != std::string::npos)
    answer = answer.substr(hashes + 4);  // GSM8K
  if (answer.empty()) answer = extract_answer(text("solution"));
  out.reference = normalize_answer(answer);
  if (out.reference.empty())
    throw DataError(where +
                    ": no reference answer (an \"answer\", or a \"solution\" with "
                    "\\boxed{...})");
  return out;
}

std::vector<MathProblem> load_math_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open the problem file; check the path");
  std::vector<MathProblem> out;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no)
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      out.push_back(parse_math_row(line, path, line_no));
  if (out.empty()) throw DataError(path + ": holds no problems (empty file)");
  return out;
}

}  // namespace stars
