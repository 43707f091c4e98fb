// The zip check a checkpoint passes before LibTorch reads it: intact archives pass, damaged
// records are named, and records larger than the check's read size are checked whole.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <zlib.h>

#include "stars/train/checkpoint.hpp"
#include "test_support.hpp"
#include "train/archive_check.hpp"

namespace stars {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

void put(Bytes& b, std::uint64_t v, int width) {
  for (int i = 0; i < width; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

/// Little-endian fields of (value, width in bytes), in order.
void put_fields(Bytes& b, std::initializer_list<std::pair<std::uint64_t, int>> fields) {
  for (auto [v, w] : fields) put(b, v, w);
}

Bytes raw_deflate(const Bytes& in) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&z, in.size()));
  z.next_in = const_cast<unsigned char*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Entry {
  std::string name;
  Bytes contents;
  bool deflated = false;
  std::int64_t size_error = 0;  // added to the size the headers state
};

/// A zip file of `entries` as the format lays it out: local headers and data, the central
/// directory, the end-of-directory record.
Bytes zip_of(const std::vector<Entry>& entries) {
  Bytes out, dir;
  for (const auto& e : entries) {
    const Bytes payload = e.deflated ? raw_deflate(e.contents) : e.contents;
    const std::uint64_t crc = crc32(0L, e.contents.data(), static_cast<uInt>(e.contents.size()));
    const std::uint64_t size = e.contents.size() + e.size_error, method = e.deflated ? 8 : 0;
    const std::uint64_t local = out.size();
    // The fields both headers hold, in this order: method, time and date, CRC-32,
    // compressed size, size, name length, extra length.
    const auto put_file_fields = [&](Bytes& b) {
      put_fields(b, {{method, 2},
                     {0, 4},
                     {crc, 4},
                     {payload.size(), 4},
                     {size, 4},
                     {e.name.size(), 2},
                     {0, 2}});
    };
    put_fields(out, {{0x04034b50u, 4}, {20, 2}, {0, 2}});  // signature, version, flags
    put_file_fields(out);
    out.insert(out.end(), e.name.begin(), e.name.end());
    out.insert(out.end(), payload.begin(), payload.end());
    // Directory entry: signature, versions made by and needed, flags, the shared fields,
    // then comment length, disk, internal and external attributes, local header offset.
    put_fields(dir, {{0x02014b50u, 4}, {20, 2}, {20, 2}, {0, 2}});
    put_file_fields(dir);
    put_fields(dir, {{0, 2}, {0, 2}, {0, 2}, {0, 4}, {local, 4}});
    dir.insert(dir.end(), e.name.begin(), e.name.end());
  }
  const std::uint64_t dir_offset = out.size();
  out.insert(out.end(), dir.begin(), dir.end());
  put_fields(out, {{0x06054b50u, 4},
                   {0, 2},
                   {0, 2},
                   {entries.size(), 2},
                   {entries.size(), 2},
                   {dir.size(), 4},
                   {dir_offset, 4},
                   {0, 2}});
  return out;
}

std::string write(const Bytes& bytes, const std::string& name) {
  const fs::path dir = testing::fresh_temp_dir("archive_check_" + name);
  fs::create_directories(dir);
  const auto path = (dir / "file.zip").string();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// 3 MiB of varied bytes: larger than the check reads at once, and compressible.
Bytes big_contents() {
  Bytes b(3 << 20);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>((i * 7) ^ (i >> 9));
  return b;
}

TEST(ArchiveCheck, RecordsLargerThanOneReadPassWhenIntact) {
  const Bytes zip = zip_of({{"a/stored", big_contents()}, {"a/deflated", big_contents(), true}});
  EXPECT_EQ(zip_archive_problem(write(zip, "intact")), "");
}

TEST(ArchiveCheck, AFlippedByteFarIntoARecordFailsItsCrc) {
  Bytes zip = zip_of({{"a/stored", big_contents()}});
  zip[30 + 8 + (5 << 19)] ^= 0x01;  // 2.5 MiB into the stored data, past the first read
  EXPECT_EQ(zip_archive_problem(write(zip, "flipped")), "record 'a/stored' fails its CRC-32");
}

TEST(ArchiveCheck, ADeflatedRecordOfAnotherSizeIsRefused) {
  for (std::int64_t error : {-1, 1}) {
    const Bytes zip = zip_of({{"a/deflated", big_contents(), true, error}});
    EXPECT_EQ(zip_archive_problem(write(zip, "size")),
              "record 'a/deflated' does not decompress to its stated size")
        << "size off by " << error;
  }
}

TEST(ArchiveCheck, TruncatedAndRepeatedArchivesAreRefused) {
  const Bytes zip = zip_of({{"a/x", Bytes(100, 1)}, {"a/x", Bytes(10, 2)}});
  EXPECT_EQ(zip_archive_problem(write(zip, "twice")), "record 'a/x' appears twice");
  const Bytes cut(zip.begin(), zip.end() - 10);
  EXPECT_EQ(zip_archive_problem(write(cut, "cut")),
            "not a zip archive (no end-of-directory record)");
  EXPECT_EQ(zip_archive_problem("/nonexistent/file.pt"),
            "not a zip archive (no end-of-directory record)");
}

TEST(ArchiveCheck, ACheckpointStarsWrotePasses) {
  Config cfg;
  cfg.model = testing::tiny_model();
  LoopLM model(cfg.model, 16);
  const fs::path dir = testing::fresh_temp_dir("archive_check_checkpoint");
  fs::create_directories(dir);
  const auto path = (dir / "model.pt").string();
  save_checkpoint(path, model, nullptr, 7, cfg);
  EXPECT_EQ(zip_archive_problem(path), "");
}

}  // namespace
}  // namespace stars
