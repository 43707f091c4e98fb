#pragma once
// Name tables for enums: parse by exact name, and list the valid names on a miss.
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "stars/config/errors.hpp"

namespace stars {

template <typename E, std::size_t N>
using EnumTable = std::array<std::pair<E, std::string_view>, N>;

/// Comma-separated list of the names in a table, for error messages.
template <typename E, std::size_t N>
std::string valid_names(const EnumTable<E, N>& table) {
  std::string out;
  for (const auto& [value, name] : table) {
    (void)value;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

/// Value for `name`; throws ConfigError naming `where` and the valid names otherwise.
template <typename E, std::size_t N>
E parse_enum(const EnumTable<E, N>& table, const std::string& name, const std::string& where) {
  for (const auto& [value, entry] : table)
    if (entry == name) return value;
  throw ConfigError(where + ": unknown value \"" + name + "\"; valid: " + valid_names(table));
}

/// Name of `value` in the table.
template <typename E, std::size_t N>
std::string enum_name(const EnumTable<E, N>& table, E value) {
  for (const auto& [entry, name] : table)
    if (entry == value) return std::string(name);
  return "?";
}

}  // namespace stars
