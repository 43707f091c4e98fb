#include "stars/io/safetensors.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include <nlohmann/json.hpp>

#include "stars/config/errors.hpp"

namespace stars::safetensors {
namespace {

using nlohmann::json;

// A header above this is no model stars wrote or could use; refusing it bounds the JSON
// parser's work on a hostile file.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

struct DTypeName {
  DType dtype;
  const char* name;
  std::size_t size;
};
constexpr std::array<DTypeName, 10> kDTypes{{{DType::F64, "F64", 8},
                                             {DType::F32, "F32", 4},
                                             {DType::F16, "F16", 2},
                                             {DType::BF16, "BF16", 2},
                                             {DType::I64, "I64", 8},
                                             {DType::I32, "I32", 4},
                                             {DType::I16, "I16", 2},
                                             {DType::I8, "I8", 1},
                                             {DType::U8, "U8", 1},
                                             {DType::BOOL, "BOOL", 1}}};

[[noreturn]] void bad(const std::string& origin, const std::string& why) {
  throw DataError("'" + origin + "' is not a valid safetensors file: " + why);
}

DType dtype_named(const std::string& name, const std::string& origin, const std::string& key) {
  for (const auto& d : kDTypes)
    if (name == d.name) return d.dtype;
  std::string valid;
  for (const auto& d : kDTypes) valid += std::string(valid.empty() ? "" : ", ") + d.name;
  bad(origin, "tensor '" + key + "' has dtype \"" + name + "\"; valid: " + valid);
}

std::uint64_t read_le64(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return n;
}

std::map<std::string, std::string> read_metadata(const json& value, const std::string& origin) {
  if (!value.is_object()) bad(origin, "__metadata__ must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) bad(origin, "__metadata__." + item.key() + " is not a string");
    out[item.key()] = item.value().get<std::string>();
  }
  return out;
}

/// Bytes a tensor of this dtype and shape holds; refuses negative dims and overflow.
std::uint64_t tensor_bytes(const Entry& e, const std::string& origin) {
  std::uint64_t bytes = element_size(e.dtype);
  for (const std::int64_t dim : e.shape) {
    if (dim < 0) bad(origin, "tensor '" + e.name + "' has a negative dimension");
    const auto d = static_cast<std::uint64_t>(dim);
    if (d != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / d)
      bad(origin, "tensor '" + e.name + "' has a shape too large to address");
    bytes *= d;
  }
  return bytes;
}

Entry read_entry(const std::string& name, const json& value, std::uint64_t data_size,
                 const std::string& origin) {
  const std::string where = "tensor '" + name + "'";
  if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
      !value.contains("data_offsets"))
    bad(origin, where + " needs an object with dtype, shape and data_offsets");
  const json &dtype = value["dtype"], &shape = value["shape"], &offsets = value["data_offsets"];
  if (!dtype.is_string()) bad(origin, where + ": dtype is not a string");
  Entry e;
  e.name = name;
  e.dtype = dtype_named(dtype.get<std::string>(), origin, name);
  if (!shape.is_array()) bad(origin, where + ": shape is not a list of integers");
  for (const auto& dim : shape) {
    if (!dim.is_number_unsigned()) bad(origin, where + ": shape holds " + dim.dump());
    if (dim.get<std::uint64_t>() >
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      bad(origin, where + ": dimension " + dim.dump() + " is too large");
    e.shape.push_back(dim.get<std::int64_t>());
  }
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    bad(origin, where + ": data_offsets must be [begin, end]");
  const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
  if (begin > end || end > data_size)
    bad(origin, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                    "] lie outside the " + std::to_string(data_size) + " data bytes");
  if (end - begin != tensor_bytes(e, origin))
    bad(origin, where + " holds " + std::to_string(end - begin) + " bytes, but dtype " +
                    dtype.get<std::string>() + " and shape " + shape.dump() + " need " +
                    std::to_string(tensor_bytes(e, origin)));
  e.begin = static_cast<std::size_t>(begin);
  e.end = static_cast<std::size_t>(end);
  return e;
}

/// The format has no holes and no shared bytes: sorted by offset, each range starts where
/// the previous one ended and the last ends at the end of the file.
void check_coverage(std::vector<Entry>& entries, std::size_t data_size, const std::string& origin) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::size_t at = 0;
  for (const Entry& e : entries) {
    if (e.begin != at)
      bad(origin, "tensor '" + e.name + "' starts at data byte " + std::to_string(e.begin) +
                      ", where " + std::to_string(at) + " was expected (gap or overlap)");
    at = e.end;
  }
  if (at != data_size)
    bad(origin, std::to_string(data_size - at) + " bytes after the last tensor belong to none");
}

}  // namespace

std::size_t element_size(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.size;
  return 1;
}

const char* dtype_name(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}

File parse_header(const std::string& head, std::uint64_t file_size, const std::string& origin) {
  if (file_size < 8)
    bad(origin, "it is " + std::to_string(file_size) +
                    " bytes long, shorter than the 8-byte header length");
  if (head.size() < 8) bad(origin, "its first 8 bytes could not be read");
  const std::uint64_t n = read_le64(head);
  if (n > kMaxHeaderBytes || n > file_size - 8)
    bad(origin, "its header length " + std::to_string(n) + " exceeds the file's " +
                    std::to_string(file_size - 8) + " remaining bytes (or 100 MiB)");
  if (head.size() - 8 < n) bad(origin, "its header could not be read whole");
  json header;
  try {
    header = json::parse(head.begin() + 8, head.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const json::exception& e) {
    bad(origin, std::string("its header is not JSON (") + e.what() + ")");
  }
  if (!header.is_object()) bad(origin, "its header is not a JSON object");
  File file;
  file.data_start = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = file_size - file.data_start;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__")
      file.metadata = read_metadata(item.value(), origin);
    else
      file.entries.push_back(read_entry(item.key(), item.value(), data_size, origin));
  }
  check_coverage(file.entries, data_size, origin);
  return file;
}

File parse(const std::string& bytes, const std::string& origin) {
  return parse_header(bytes, bytes.size(), origin);
}

std::uint64_t header_end(const std::string& first8) {
  if (first8.size() < 8) return first8.size();
  const std::uint64_t n = read_le64(first8);
  return n > kMaxHeaderBytes ? 8 : 8 + n;
}

std::string serialize(const std::vector<Blob>& blobs,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t at = 0;
  for (const Blob& b : blobs) {
    header[b.name] = {{"dtype", dtype_name(b.dtype)},
                      {"shape", b.shape},
                      {"data_offsets", {at, at + b.data.size()}}};
    at += b.data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  std::string out(8, '\0');
  std::uint64_t n = text.size();
  for (std::size_t i = 0; i < 8; ++i, n >>= 8) out[i] = static_cast<char>(n & 0xff);
  out += text;
  for (const Blob& b : blobs) out += b.data;
  return out;
}

}  // namespace stars::safetensors
