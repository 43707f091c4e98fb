#include "archive_check.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <vector>

#include <zlib.h>

namespace stars {
namespace {

using Bytes = std::vector<unsigned char>;

/// Record contents are checked in pieces of this size, so the check holds a few MiB whatever
/// the file's size (a step checkpoint holds the weights and AdamW's two moments: 17 GB in
/// float32 for 1.4B parameters).
constexpr std::uint64_t kChunk = std::uint64_t{1} << 20;

/// Bounds-checked reads at any offset of a file, without holding the file in memory.
class FileBytes {
 public:
  explicit FileBytes(const std::string& path) : in_(path, std::ios::binary) {
    in_.seekg(0, std::ios::end);
    const auto end = in_.tellg();
    size_ = in_ && end > 0 ? static_cast<std::uint64_t>(end) : 0;
  }
  std::uint64_t size() const { return size_; }
  bool has(std::uint64_t at, std::uint64_t n) const { return at <= size_ && n <= size_ - at; }
  /// The `n` bytes at `at` into `out`; false when they are not all inside the file.
  bool read(std::uint64_t at, std::uint64_t n, Bytes& out) {
    if (!has(at, n)) return false;
    out.resize(n);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(at));
    in_.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
    return static_cast<std::uint64_t>(in_.gcount()) == n;
  }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

/// The little-endian number of `width` bytes at `at` of `b` (the caller has checked bounds).
std::uint64_t le(const Bytes& b, std::uint64_t at, int width) {
  std::uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<std::uint64_t>(i)];
  return v;
}

bool signature(const Bytes& b, std::uint64_t at, std::uint32_t sig) {
  return at <= b.size() && 4 <= b.size() - at && le(b, at, 4) == sig;
}

/// The CRC-32 of a stored record's `size` bytes at `data`; false when they cannot be read.
bool stored_crc(FileBytes& f, std::uint64_t data, std::uint64_t size, uLong& crc) {
  Bytes piece;
  crc = crc32(0L, Z_NULL, 0);
  for (std::uint64_t done = 0; done < size;) {
    const std::uint64_t n = std::min(kChunk, size - done);
    if (!f.read(data + done, n, piece)) return false;
    crc = crc32(crc, piece.data(), static_cast<uInt>(n));
    done += n;
  }
  return true;
}

/// The CRC-32 of a deflated record (raw deflate, as zip holds it) of `compressed` bytes at
/// `data`; false unless it inflates to exactly `size` bytes.
bool deflated_crc(FileBytes& f, std::uint64_t data, std::uint64_t compressed, std::uint64_t size,
                  uLong& crc) {
  // Deflate expands at most 1032-fold: a record claiming more is damaged, and is refused
  // without inflating it.
  if (size > 1032 * compressed + 1024) return false;
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return false;
  Bytes in, out(kChunk);
  crc = crc32(0L, Z_NULL, 0);
  std::uint64_t consumed = 0;
  int status = Z_OK;
  while (status == Z_OK && z.total_out <= size) {
    if (z.avail_in == 0) {
      const std::uint64_t n = std::min(kChunk, compressed - consumed);
      if (n == 0 || !f.read(data + consumed, n, in)) break;
      consumed += n;
      z.next_in = in.data();
      z.avail_in = static_cast<uInt>(n);
    }
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(kChunk);
    status = inflate(&z, Z_NO_FLUSH);
    crc = crc32(crc, out.data(), static_cast<uInt>(kChunk - z.avail_out));
  }
  const bool whole = status == Z_STREAM_END && z.total_out == size;
  inflateEnd(&z);
  return whole;
}

struct Directory {
  std::uint64_t entries = 0, offset = 0;
};

/// The central directory's place, from the end-of-central-directory record (zip64 too).
bool find_directory(FileBytes& f, Directory& dir) {
  const std::uint64_t size = f.size();
  if (size < 22) return false;
  // The record ends the file, after a comment of at most 65535 bytes; a zip64 locator of 20
  // bytes precedes it.
  const std::uint64_t tail_start = size > 22 + 65535 + 20 ? size - 22 - 65535 - 20 : 0;
  Bytes tail;
  if (!f.read(tail_start, size - tail_start, tail)) return false;
  const std::uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  std::uint64_t eocd = size - 22;
  while (!signature(tail, eocd - tail_start, 0x06054b50u)) {
    if (eocd == lowest) return false;
    --eocd;
  }
  const std::uint64_t e = eocd - tail_start;
  dir.entries = le(tail, e + 10, 2);
  dir.offset = le(tail, e + 16, 4);
  if (eocd >= 20 && signature(tail, e - 20, 0x07064b50u)) {  // zip64 locator
    Bytes record;
    if (!f.read(le(tail, e - 20 + 8, 8), 56, record) || !signature(record, 0, 0x06064b50u))
      return false;
    dir.entries = le(record, 32, 8);
    dir.offset = le(record, 48, 8);
  }
  return true;
}

/// Zip64 extra field values that replace the 0xFFFFFFFF ones, in the order the format fixes.
void apply_zip64_extra(const Bytes& b, std::uint64_t extra, std::uint64_t extra_len,
                       std::uint64_t& size, std::uint64_t& compressed, std::uint64_t& local) {
  for (std::uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const std::uint64_t id = le(b, at, 2), len = le(b, at + 2, 2);
    if (id == 1) {
      std::uint64_t v = at + 4;
      for (std::uint64_t* field : {&size, &compressed, &local})
        if (*field == 0xFFFFFFFFu && v + 8 <= at + 4 + len) *field = le(b, v, 8), v += 8;
      return;
    }
    at += 4 + len;
  }
}

/// What is wrong with the record whose central-directory entry starts at `at`, or "";
/// `at` moves to the next entry.
std::string record_problem(FileBytes& f, std::uint64_t& at, std::set<std::string>& names) {
  Bytes entry, local_header;
  if (!f.read(at, 46, entry) || !signature(entry, 0, 0x02014b50u))
    return "its zip directory is damaged";
  const std::uint64_t method = le(entry, 10, 2), crc = le(entry, 16, 4);
  std::uint64_t compressed = le(entry, 20, 4), size = le(entry, 24, 4), local = le(entry, 42, 4);
  const std::uint64_t name_len = le(entry, 28, 2), extra_len = le(entry, 30, 2),
                      comment_len = le(entry, 32, 2);
  if (!f.read(at, 46 + name_len + extra_len + comment_len, entry))
    return "its zip directory is damaged";
  at += 46 + name_len + extra_len + comment_len;
  const std::string name(entry.begin() + 46, entry.begin() + 46 + static_cast<long>(name_len));
  apply_zip64_extra(entry, 46 + name_len, extra_len, size, compressed, local);
  if (!names.insert(name).second) return "record '" + name + "' appears twice";
  if (!f.read(local, 30, local_header) || !signature(local_header, 0, 0x04034b50u))
    return "record '" + name + "' has no local header";
  const std::uint64_t data = local + 30 + le(local_header, 26, 2) + le(local_header, 28, 2);
  if (!f.has(data, compressed)) return "record '" + name + "' runs past the end of the file";
  // Read in pieces, a record of any size (zip64's 4 GiB and more too) is checked whole.
  uLong got = 0;
  const bool read = method == 0   ? compressed == size && stored_crc(f, data, size, got)
                    : method == 8 ? deflated_crc(f, data, compressed, size, got)
                                  : false;
  if (!read) return "record '" + name + "' does not decompress to its stated size";
  if (got != crc) return "record '" + name + "' fails its CRC-32";
  return "";
}

}  // namespace

std::string zip_archive_problem(const std::string& path) {
  FileBytes f(path);
  Directory dir;
  if (!find_directory(f, dir)) return "not a zip archive (no end-of-directory record)";
  if (dir.entries > f.size() / 46) return "its zip directory lists more records than fit";
  std::set<std::string> names;
  std::uint64_t at = dir.offset;
  for (std::uint64_t i = 0; i < dir.entries; ++i)
    if (std::string problem = record_problem(f, at, names); !problem.empty()) return problem;
  return "";
}

}  // namespace stars
