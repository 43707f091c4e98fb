#pragma once
// Strict reading of a JSON object into a struct: every key must be known and typed right.
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"

namespace stars::detail {

class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, std::string path);

  void read(const char* key, int& out);
  void read(const char* key, double& out);
  void read(const char* key, bool& out);
  void read(const char* key, std::string& out);
  void read(const char* key, std::vector<int>& out);

  /// Reads a string through a parser, e.g. an enum name table.
  template <typename T, typename Parse>
  void read_with(const char* key, T& out, Parse parse) {
    const nlohmann::json* v = take(key);
    if (!v) return;
    if (!v->is_string()) fail_type(key, *v, "a string");
    out = parse(v->get<std::string>(), key_path(key));
  }

  /// Reads a nested object through `parse(json, path, out)`.
  template <typename T, typename Parse>
  void read_object(const char* key, T& out, Parse parse) {
    const nlohmann::json* v = take(key);
    if (!v) return;
    if (!v->is_object()) fail_type(key, *v, "an object");
    parse(*v, key_path(key), out);
  }

  /// Reads any JSON value through `parse(json, path, out)`, which checks its type.
  template <typename T, typename Parse>
  void read_any(const char* key, T& out, Parse parse) {
    const nlohmann::json* v = take(key);
    if (v) parse(*v, key_path(key), out);
  }

  /// Whether the object holds `key` (without marking it read).
  bool has(const char* key) const { return j_.contains(key); }

  /// Throws if the object held a key that no read() asked for.
  void finish() const;

  std::string key_path(const std::string& key) const;
  [[noreturn]] void fail_type(const char* key, const nlohmann::json& v, const char* want) const;

 private:
  const nlohmann::json* take(const char* key);

  const nlohmann::json& j_;
  std::string path_;
  std::set<std::string> known_;
};

}  // namespace stars::detail
