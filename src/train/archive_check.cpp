#include "archive_check.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

#include <zlib.h>

namespace stars {
namespace {

using Bytes = std::vector<unsigned char>;

/// The record's contents: stored bytes as they are, deflated ones inflated (raw deflate, as
/// zip holds them); false when they do not inflate to exactly `size` bytes.
bool record_contents(const unsigned char* data, std::uint64_t compressed, std::uint64_t method,
                     std::uint64_t size, Bytes& out) {
  if (method == 0) {
    if (compressed != size) return false;
    out.assign(data, data + size);
    return true;
  }
  // Deflate expands at most 1032-fold: a record claiming more is damaged, and is refused
  // before anything that large is allocated.
  if (method != 8 || size > 1032 * compressed + 1024) return false;
  out.assign(size, 0);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return false;
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(compressed);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(size);
  const int status = inflate(&z, Z_FINISH);
  const bool whole = status == Z_STREAM_END && z.total_out == size;
  inflateEnd(&z);
  return whole;
}

/// Little-endian reads that refuse to leave the buffer.
class Reader {
 public:
  explicit Reader(const Bytes& bytes) : b_(bytes) {}
  bool has(std::uint64_t at, std::uint64_t n) const {
    return at <= b_.size() && n <= b_.size() - at;
  }
  std::uint64_t le(std::uint64_t at, int width) const {
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = v << 8 | b_[at + static_cast<std::uint64_t>(i)];
    return v;
  }
  bool signature(std::uint64_t at, std::uint32_t sig) const {
    return has(at, 4) && le(at, 4) == sig;
  }
  const Bytes& bytes() const { return b_; }

 private:
  const Bytes& b_;
};

struct Directory {
  std::uint64_t entries = 0, offset = 0;
};

/// The central directory's place, from the end-of-central-directory record (zip64 too).
bool find_directory(const Reader& r, Directory& dir) {
  const std::uint64_t size = r.bytes().size();
  if (size < 22) return false;
  std::uint64_t eocd = size - 22;
  const std::uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  while (!r.signature(eocd, 0x06054b50u)) {
    if (eocd == lowest) return false;
    --eocd;
  }
  dir.entries = r.le(eocd + 10, 2);
  dir.offset = r.le(eocd + 16, 4);
  if (eocd >= 20 && r.signature(eocd - 20, 0x07064b50u)) {  // zip64 locator
    const std::uint64_t at = r.le(eocd - 20 + 8, 8);
    if (!r.has(at, 56) || !r.signature(at, 0x06064b50u)) return false;
    dir.entries = r.le(at + 32, 8);
    dir.offset = r.le(at + 48, 8);
  }
  return true;
}

/// Zip64 extra field values that replace the 0xFFFFFFFF ones, in the order the format fixes.
void apply_zip64_extra(const Reader& r, std::uint64_t extra, std::uint64_t extra_len,
                       std::uint64_t& size, std::uint64_t& compressed, std::uint64_t& local) {
  for (std::uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const std::uint64_t id = r.le(at, 2), len = r.le(at + 2, 2);
    if (id == 1) {
      std::uint64_t v = at + 4;
      for (std::uint64_t* field : {&size, &compressed, &local})
        if (*field == 0xFFFFFFFFu && v + 8 <= at + 4 + len) *field = r.le(v, 8), v += 8;
      return;
    }
    at += 4 + len;
  }
}

}  // namespace

std::string zip_archive_problem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const Bytes bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const Reader r(bytes);
  Directory dir;
  if (!find_directory(r, dir)) return "not a zip archive (no end-of-directory record)";
  if (dir.entries > bytes.size() / 46) return "its zip directory lists more records than fit";
  std::set<std::string> names;
  Bytes contents;
  std::uint64_t at = dir.offset;
  for (std::uint64_t i = 0; i < dir.entries; ++i) {
    if (!r.has(at, 46) || !r.signature(at, 0x02014b50u)) return "its zip directory is damaged";
    const std::uint64_t method = r.le(at + 10, 2), crc = r.le(at + 16, 4);
    std::uint64_t compressed = r.le(at + 20, 4), size = r.le(at + 24, 4), local = r.le(at + 42, 4);
    const std::uint64_t name_len = r.le(at + 28, 2), extra_len = r.le(at + 30, 2),
                        comment_len = r.le(at + 32, 2);
    if (!r.has(at + 46, name_len + extra_len + comment_len)) return "its zip directory is damaged";
    const std::string name(bytes.begin() + static_cast<std::ptrdiff_t>(at + 46),
                           bytes.begin() + static_cast<std::ptrdiff_t>(at + 46 + name_len));
    apply_zip64_extra(r, at + 46 + name_len, extra_len, size, compressed, local);
    if (!names.insert(name).second) return "record '" + name + "' appears twice";
    if (!r.has(local, 30) || !r.signature(local, 0x04034b50u))
      return "record '" + name + "' has no local header";
    const std::uint64_t data = local + 30 + r.le(local + 26, 2) + r.le(local + 28, 2);
    if (!r.has(data, compressed)) return "record '" + name + "' runs past the end of the file";
    if (size > 0xFFFFFFFFu || compressed > 0xFFFFFFFFu) {  // zlib's counters are 32-bit
      if (method != 0) return "record '" + name + "' is too large to check";
      at += 46 + name_len + extra_len + comment_len;
      continue;  // a stored tensor of 4 GiB or more: its bounds were checked above
    }
    if (!record_contents(bytes.data() + data, compressed, method, size, contents))
      return "record '" + name + "' does not decompress to its stated size";
    if (crc32(0L, contents.data(), static_cast<uInt>(contents.size())) != crc)
      return "record '" + name + "' fails its CRC-32";
    at += 46 + name_len + extra_len + comment_len;
  }
  return "";
}

}  // namespace stars
