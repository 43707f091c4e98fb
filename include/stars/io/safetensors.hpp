#pragma once
// The safetensors format (huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON ({"__metadata__": {str: str}, NAME: {"dtype", "shape",
// "data_offsets": [begin, end]}, ...}), then the tensors' bytes, little-endian, row-major,
// with offsets relative to the end of the header. This part knows only bytes: reading
// treats the file as hostile (every length, offset, dtype and shape is checked before
// use) and throws DataError naming the file and what is wrong. Tensors are in
// io/safetensors_tensors.hpp.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stars::safetensors {

/// Element types of the format that stars reads and writes.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

/// Bytes per element.
std::size_t element_size(DType dtype);
/// The format's name of a dtype ("F32").
const char* dtype_name(DType dtype);

struct Entry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;  // byte range within the data section
};

/// A parsed file: metadata, the tensors in data order, and where the data section starts.
struct File {
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries;
  std::size_t data_start = 0;
};

/// Parses and checks `bytes`, the whole file; `origin` names it in errors. On success every
/// entry's byte range lies inside `bytes` and matches its dtype and shape, and the ranges
/// cover the data section without gaps or overlaps.
File parse(const std::string& bytes, const std::string& origin);

/// parse() from the file's beginning alone: `head` holds its first header_end(head) bytes
/// (at least), `file_size` is the whole file's length, and every entry's range is checked
/// against that length, so the tensors can then be read from the file one at a time.
File parse_header(const std::string& head, std::uint64_t file_size, const std::string& origin);

/// How many bytes of the file parse_header needs, from its first 8 bytes (8 when the
/// header length they state is too large to be valid; parse_header then says why).
std::uint64_t header_end(const std::string& first8);

/// A tensor to write: its name, dtype, shape and `data` (element_size × elements bytes).
struct Blob {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::string data;
};

/// The bytes of a safetensors file holding `blobs` in the order given, with `metadata`.
std::string serialize(const std::vector<Blob>& blobs,
                      const std::map<std::string, std::string>& metadata);

}  // namespace stars::safetensors
