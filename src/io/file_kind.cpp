#include "stars/io/file_kind.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>

namespace stars {
namespace {

/// A safetensors file opens with an 8-byte little-endian header length and then '{'.
bool looks_like_safetensors(const std::string& head, std::uintmax_t size) {
  if (head.size() < 9 || head[8] != '{') return false;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(head[i]);
  return n + 8 <= size;
}

bool is_text(const std::string& head) {
  return std::all_of(head.begin(), head.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';  // UTF-8 bytes are >= 0x80
  });
}

}  // namespace

FileKind sniff_file_kind(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return FileKind::missing;
  if (fs::is_directory(path, ec)) return FileKind::directory;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec || size == 0) return FileKind::empty;
  std::ifstream in(path, std::ios::binary);
  std::string head(512, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  if (head.rfind("PK\x03\x04", 0) == 0) return FileKind::zip;
  if (looks_like_safetensors(head, size)) return FileKind::safetensors;
  const auto first = std::find_if_not(
      head.begin(), head.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (first != head.end() && (*first == '{' || *first == '[')) return FileKind::json;
  return is_text(head) ? FileKind::text : FileKind::other;
}

std::string describe(FileKind kind) {
  switch (kind) {
    case FileKind::missing:
      return "missing";
    case FileKind::directory:
      return "a directory";
    case FileKind::empty:
      return "an empty file";
    case FileKind::zip:
      return "a zip archive";
    case FileKind::safetensors:
      return "a safetensors file";
    case FileKind::json:
      return "a JSON file";
    case FileKind::text:
      return "a text file";
    case FileKind::other:
      return "a file of another kind (neither a zip archive nor safetensors)";
  }
  return "unknown";
}

std::string kind_hint(FileKind kind) {
  switch (kind) {
    case FileKind::json:
      return " (a config? configs go to stars-train --config; for a run, give its directory)";
    case FileKind::safetensors:
      return " (name it with the .safetensors extension so it is read as one)";
    default:
      return "";
  }
}

}  // namespace stars
