#include "poisson/data/idx.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "idx_test_files.hpp"

namespace {

using idx_test::bytes;
using poisson::data::idx_options;
using poisson::data::read_idx;

/// The message of the io_error that reading `data` throws, or "" if it reads.
std::string error_of(const bytes& data, const idx_options& options = {}) {
    try {
        read_idx(data, "t", options);
    } catch (const poisson::io_error& e) {
        return e.what();
    }
    return "";
}

/// Whether `message` contains `part`; doctest prints both when the check fails.
bool has(const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("read_idx: a raw file gives its sizes and values") {
    const bytes values = idx_test::counting(2 * 3 * 2);
    const auto file = read_idx(idx_test::idx({2, 3, 2}, values), "raw");
    CHECK(file.source == "raw");
    CHECK(file.shape == std::vector<std::size_t>{2, 3, 2});
    CHECK(file.values == values);
}

TEST_CASE("read_idx: sizes are big-endian") {
    const bytes data = {0, 0, 8, 1, 0, 0, 1, 2, /* 258 values follow */};
    bytes full = data;
    full.resize(data.size() + 258, 7);
    CHECK(read_idx(full, "t").shape == std::vector<std::size_t>{258});
}

TEST_CASE("read_idx: a gzipped file is recognised by its magic bytes and inflated") {
    const bytes raw = idx_test::idx({3, 4}, idx_test::counting(12));
    const auto file = read_idx(idx_test::gzip(raw), "g");
    CHECK(file.shape == std::vector<std::size_t>{3, 4});
    CHECK(file.values == idx_test::counting(12));
}

TEST_CASE("read_idx: concatenated gzip members are read as one stream, like gunzip does") {
    const bytes raw = idx_test::idx({100}, idx_test::counting(100));
    bytes two = idx_test::gzip(std::span(raw).first(30));
    const bytes second = idx_test::gzip(std::span(raw).subspan(30));
    two.insert(two.end(), second.begin(), second.end());
    CHECK(read_idx(two, "g").values == idx_test::counting(100));
}

TEST_CASE("read_idx: the file name does not decide the decoding") {
    const auto folder = idx_test::scratch_folder("idx_names");
    const bytes raw = idx_test::idx({5}, idx_test::counting(5));
    idx_test::write(folder / "raw.gz", raw);
    idx_test::write(folder / "packed.idx", idx_test::gzip(raw));
    CHECK(read_idx(folder / "raw.gz").values == idx_test::counting(5));
    CHECK(read_idx(folder / "packed.idx").values == idx_test::counting(5));
    CHECK(read_idx(folder / "raw.gz").source == (folder / "raw.gz").string());
}

TEST_CASE("read_idx: an empty file is refused") {
    const auto folder = idx_test::scratch_folder("idx_empty");
    idx_test::write(folder / "empty", bytes{});
    CHECK_THROWS_WITH_AS(read_idx(folder / "empty"),
                         ("read_idx \"" + (folder / "empty").string() + "\": the file is empty")
                             .c_str(),
                         poisson::io_error);
    CHECK(has(error_of(bytes{}), "empty"));
}

TEST_CASE("read_idx: a missing file or a folder is refused with the path") {
    const auto folder = idx_test::scratch_folder("idx_missing");
    CHECK_THROWS_WITH_AS(read_idx(folder / "nothing"), doctest::Contains("nothing\": cannot read"),
                         poisson::io_error);
    CHECK_THROWS_WITH_AS(read_idx(folder), doctest::Contains("is a folder"), poisson::io_error);
}

TEST_CASE("read_idx: a short header is refused") {
    CHECK(error_of({0, 0, 8}) == "read_idx \"t\": short header: 3 bytes, the header needs 4");
    CHECK(error_of({0, 0, 8, 3, 0, 0, 0, 1, 0, 0}) ==
          "read_idx \"t\": short header: 10 bytes, the header needs 16");
}

TEST_CASE("read_idx: a wrong magic, element type or rank is refused") {
    CHECK(error_of({1, 0, 8, 1, 0, 0, 0, 0}) ==
          "read_idx \"t\": not an IDX file: it starts with 0x01 0x00, not two zero bytes");
    CHECK(error_of({0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}) ==
          "read_idx \"t\": element type 0x0d is not supported (only 0x08, unsigned byte)");
    CHECK(error_of({0, 0, 8, 0}) == "read_idx \"t\": the header declares 0 dimensions");
}

TEST_CASE("read_idx: sizes whose product overflows are refused") {
    const bytes data = idx_test::idx({0xffffffffu, 0xffffffffu, 0xffffffffu}, {});
    CHECK(has(error_of(data), "overflow when multiplied"));
}

TEST_CASE("read_idx: declared sizes above the cap are refused before reading the payload") {
    CHECK(has(error_of(idx_test::idx({1u << 31}, {})), "above the cap of 1073741824"));
    idx_options small;
    small.max_bytes = 100;
    // 8 header bytes + 92 payload bytes is exactly the cap.
    CHECK(has(error_of(idx_test::idx({93}, idx_test::counting(93)), small), "above the cap"));
    CHECK(error_of(idx_test::idx({92}, idx_test::counting(92)), small).empty());
}

TEST_CASE("read_idx: a payload one byte short or one byte long is refused") {
    CHECK(error_of(idx_test::idx({2, 3}, idx_test::counting(5))) ==
          "read_idx \"t\": the payload has 5 bytes, the header declares 6 (sizes {2, 3})");
    CHECK(error_of(idx_test::idx({2, 3}, idx_test::counting(7))) ==
          "read_idx \"t\": the payload has 7 bytes, the header declares 6 (sizes {2, 3})");
    const bytes short_gz = idx_test::gzip(idx_test::idx({2, 3}, idx_test::counting(5)));
    CHECK(has(error_of(short_gz), "the payload has 5 bytes, the header declares 6"));
    const bytes long_gz = idx_test::gzip(idx_test::idx({2, 3}, idx_test::counting(7)));
    CHECK(has(error_of(long_gz), "trailing bytes after the 18 bytes the header declares"));
}

TEST_CASE("read_idx: gzip data is refused when decompression is disabled") {
    idx_options raw_only;
    raw_only.decompress = false;
    const bytes packed = idx_test::gzip(idx_test::idx({4}, idx_test::counting(4)));
    CHECK(error_of(packed, raw_only) ==
          "read_idx \"t\": the data is gzip-compressed (it starts with 1f 8b) but "
          "decompression is disabled");
}

TEST_CASE("read_idx: gzip data cut at any byte is refused") {
    const bytes packed = idx_test::gzip(idx_test::idx({50}, idx_test::counting(50)));
    for (std::size_t size = 1; size < packed.size(); ++size) {
        CAPTURE(size);
        CHECK_FALSE(error_of(bytes(packed.begin(), packed.begin() + size)).empty());
    }
}

TEST_CASE("read_idx: gzip data with a changed byte in its body or trailer is refused") {
    // Bytes 0 to 9 are the gzip header, whose time stamp and OS fields have no check; the
    // unused high bits of the last deflate byte are padding, which nothing checks either.
    // Bit 0 of every body byte is read, and 0xff changes it too.
    const bytes packed = idx_test::gzip(idx_test::idx({50}, idx_test::counting(50)));
    for (std::size_t at = 10; at < packed.size(); ++at) {
        for (const std::uint8_t mask : {0x01, 0xff}) {
            bytes bad = packed;
            bad[at] ^= mask;
            CAPTURE(at);
            CAPTURE(mask);
            CHECK_FALSE(error_of(bad).empty());
        }
    }
    bytes bad = packed;
    bad[packed.size() - 8] ^= 0x01;  // the CRC-32 of the trailer
    CHECK(has(error_of(bad), "read_idx \"t\": the gzip data is corrupt: incorrect data check"));
}

TEST_CASE("read_idx: garbage after the gzip data is refused") {
    bytes packed = idx_test::gzip(idx_test::idx({4}, idx_test::counting(4)));
    packed.push_back(0);
    CHECK(has(error_of(packed), "1 bytes of trailing garbage after the gzip data"));
}

TEST_CASE("read_idx: a zip bomb stops at the size its header declares") {
    // 64 MiB of zeros compress to about 64 KiB; the header declares only 16 bytes.
    bytes raw = idx_test::idx({16}, bytes(64u << 20, 0));
    const bytes bomb = idx_test::gzip(raw);
    raw = {};
    CHECK(bomb.size() < (1u << 20));
    CHECK(has(error_of(bomb), "trailing bytes after the 24 bytes the header declares"));

    // A header that declares more than the cap fails before anything is inflated.
    idx_options capped;
    capped.max_bytes = 1u << 20;
    const bytes big = idx_test::gzip(idx_test::idx({2u << 20}, bytes(2u << 20, 0)));
    CHECK(has(error_of(big, capped), "above the cap of 1048576"));
}

TEST_CASE("require_labels: a label above 9 is refused with its index") {
    const auto file = read_idx(idx_test::idx({4}, {3, 9, 10, 0}), "labels");
    CHECK_THROWS_WITH_AS(poisson::data::require_labels(file),
                         "read_idx_labels \"labels\": label 10 at index 2 is above 9",
                         poisson::io_error);
    CHECK_NOTHROW(poisson::data::require_labels(read_idx(idx_test::idx({2}, {0, 9}), "ok")));
}

TEST_CASE("require_labels and require_images: the wrong kind of file is refused") {
    const auto images = read_idx(idx_test::idx({2, 2, 2}, idx_test::counting(8)), "img");
    const auto labels = read_idx(idx_test::idx({2}, {1, 2}), "lab");
    CHECK_THROWS_WITH_AS(poisson::data::require_labels(images),
                         "read_idx_labels \"img\": sizes {2, 2, 2} have 3 dimensions, labels "
                         "have 1: an images file, not labels",
                         poisson::io_error);
    CHECK_THROWS_WITH_AS(poisson::data::require_images(labels),
                         "read_idx_images \"lab\": sizes {2} have 1 dimensions, images have 3: "
                         "a labels file, not images",
                         poisson::io_error);
    CHECK_NOTHROW(poisson::data::require_images(images));
}

TEST_CASE("read_idx_images and read_idx_labels: read from a path and check the kind") {
    const auto folder = idx_test::scratch_folder("idx_kinds");
    idx_test::write(folder / "images", idx_test::gzip(idx_test::idx({1, 2, 2}, {0, 1, 2, 3})));
    idx_test::write(folder / "labels", idx_test::idx({1}, {7}));
    CHECK(poisson::data::read_idx_images(folder / "images").values == bytes{0, 1, 2, 3});
    CHECK(poisson::data::read_idx_labels(folder / "labels").values == bytes{7});
    CHECK_THROWS_WITH_AS(poisson::data::read_idx_labels(folder / "images"),
                         doctest::Contains("an images file, not labels"), poisson::io_error);
    CHECK_THROWS_WITH_AS(poisson::data::read_idx_images(folder / "labels"),
                         doctest::Contains("a labels file, not images"), poisson::io_error);
}
