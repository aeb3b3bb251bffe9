#include "poisson/io/checkpoint.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>

#include "poisson/nn/layer.hpp"

namespace {

namespace fs = std::filesystem;
using poisson::io::checkpoint;

/// A fresh, empty folder for one test case, under the build tree (path from CMake).
fs::path scratch_folder(const std::string& name) {
    const fs::path folder = fs::path(POISSON_TEST_SCRATCH) / name;
    fs::remove_all(folder);
    fs::create_directories(folder);
    return folder;
}

void write_bytes(const fs::path& path, const std::vector<std::byte>& bytes, std::size_t count) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(count));
}

std::string message_of_load(const fs::path& path) {
    try {
        checkpoint::load(path);
    } catch (const poisson::io_error& e) {
        return e.what();
    }
    return "";
}

/// Rewrites the trailing CRC so that a deliberately malformed body reaches the record parser.
void reseal(std::vector<std::byte>& bytes) {
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()),
                            static_cast<uInt>(bytes.size() - 4));
    for (std::size_t i = 0; i < 4; ++i) {
        bytes[bytes.size() - 4 + i] = static_cast<std::byte>(crc >> (8 * i));
    }
}

void put_u32(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t value) {
    for (std::size_t i = 0; i < 4; ++i) {
        bytes[at + i] = static_cast<std::byte>(value >> (8 * i));
    }
}

template <class T>
bool same_bits(const xt::xarray<T>& a, const xt::xarray<T>& b) {
    if (a.shape() != b.shape()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::memcmp(&a.data()[i], &b.data()[i], sizeof(T)) != 0) {
            return false;
        }
    }
    return true;
}

/// A small checkpoint with one record of every kind.
checkpoint small_checkpoint() {
    checkpoint c;
    c.put("w", xt::xarray<float>{{1.5f, -2.0f}, {0.25f, 3.0f}});
    c.put_u64("step", 42);
    c.put_text("rng", "state");
    return c;
}

}  // namespace

// Layers hold nn::tensor<T>; get_into must accept it as the xt::xarray<T> it is.
static_assert(std::is_same_v<poisson::nn::tensor<float>, xt::xarray<float>>);

TEST_CASE("checkpoint: every element type survives a save and load bit for bit") {
    const fs::path file = scratch_folder("round_trip") / "all.ckpt";
    const float nan_f = std::bit_cast<float>(0x7fc01234u);
    const xt::xarray<float> f = {{0.0f, -0.0f, nan_f},
                                 {std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::denorm_min(), 1.0f / 3.0f}};
    const xt::xarray<double> d = {-1e300, std::numeric_limits<double>::quiet_NaN(), 0.1};
    const xt::xarray<std::int32_t> i =
        xt::xarray<std::int32_t>{std::numeric_limits<std::int32_t>::min(), -1, 0, 7};
    const xt::xarray<std::uint64_t> u = {std::numeric_limits<std::uint64_t>::max(), 0, 1};
    const xt::xarray<double> scalar = 2.5;  // rank 0
    const xt::xarray<float> empty = xt::xarray<float>::from_shape({0, 3});
    const std::string text("a\0b\xff\n", 5);

    checkpoint c;
    c.put("f", f);
    c.put("d", d);
    c.put("i", i);
    c.put("u", u);
    c.put("scalar", scalar);
    c.put("empty", empty);
    c.put_u64("big", std::numeric_limits<std::uint64_t>::max());
    c.put_text("text", text);
    c.put_text("no text", "");
    c.save(file);

    const checkpoint back = checkpoint::load(file);
    CHECK(same_bits(back.get<float>("f"), f));
    CHECK(same_bits(back.get<double>("d"), d));
    CHECK(same_bits(back.get<std::int32_t>("i"), i));
    CHECK(same_bits(back.get<std::uint64_t>("u"), u));
    CHECK(back.get<double>("scalar").dimension() == 0);
    CHECK(back.get<double>("scalar")() == 2.5);
    CHECK(same_bits(back.get<float>("empty"), empty));
    CHECK(back.get_u64("big") == std::numeric_limits<std::uint64_t>::max());
    CHECK(back.get_text("text") == text);
    CHECK(back.get_text("no text").empty());
    CHECK(back.names() == std::vector<std::string>{"big", "d", "empty", "f", "i", "no text",
                                                   "scalar", "text", "u"});
}

TEST_CASE("checkpoint: equal contents give identical bytes whatever the insertion order") {
    checkpoint a;
    a.put_u64("x", 1);
    a.put_text("y", "two");
    checkpoint b;
    b.put_text("y", "two");
    b.put_u64("x", 1);
    CHECK(a.to_bytes() == b.to_bytes());
}

TEST_CASE("checkpoint: the file layout is the documented one") {
    checkpoint c;
    c.put_u64("n", 0x0102030405060708u);
    const std::vector<std::byte> bytes = c.to_bytes();
    // header 24 + name length 4 + name 1 + kind 1 + value 8 + CRC 4
    REQUIRE(bytes.size() == 42);
    CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), 8) == "POISCKPT");
    CHECK(bytes[8] == std::byte{1});    // version, little-endian
    CHECK(bytes[12] == std::byte{1});   // one record
    CHECK(bytes[16] == std::byte{42});  // file size
    CHECK(bytes[24] == std::byte{1});   // name length
    CHECK(bytes[28] == std::byte{'n'});
    CHECK(bytes[29] == std::byte{2});     // kind u64
    CHECK(bytes[30] == std::byte{0x08});  // least significant byte first
    CHECK(bytes[37] == std::byte{0x01});
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), 38);
    CHECK(bytes[38] == static_cast<std::byte>(crc & 0xff));
    CHECK(bytes[41] == static_cast<std::byte>(crc >> 24));
}

TEST_CASE("checkpoint: put replaces a record of the same name, whatever its type") {
    checkpoint c;
    c.put("a", xt::xarray<float>{1.0f, 2.0f});
    c.put_u64("a", 9);
    CHECK(c.size() == 1);
    CHECK(c.get_u64("a") == 9);
    c.put("a", xt::xarray<double>{4.0});
    CHECK(c.get<double>("a") == xt::xarray<double>{4.0});
}

TEST_CASE("checkpoint: put evaluates an xtensor expression") {
    const xt::xarray<float> a = {1.0f, 2.0f};
    checkpoint c;
    c.put("sum", a + a);
    CHECK(c.get<float>("sum") == xt::xarray<float>{2.0f, 4.0f});
}

TEST_CASE("checkpoint: an empty record name is refused") {
    checkpoint c;
    CHECK_THROWS_AS(c.put_u64("", 1), poisson::invalid_argument);
}

TEST_CASE("checkpoint: contains and missing records") {
    const checkpoint c = small_checkpoint();
    CHECK(c.contains("w"));
    CHECK_FALSE(c.contains("v"));
    CHECK_THROWS_WITH_AS(c.get<float>("v"), doctest::Contains("\"v\": no such record"),
                         poisson::io_error);
    CHECK_THROWS_WITH_AS(c.get_u64("missing"), doctest::Contains("missing"), poisson::io_error);
    CHECK_THROWS_AS(c.get_text("nope"), poisson::io_error);
}

TEST_CASE("checkpoint: asking for the wrong type names both types") {
    const checkpoint c = small_checkpoint();
    CHECK_THROWS_WITH_AS(c.get<double>("w"),
                         "checkpoint::get \"w\": the record is a float32 tensor, asked for a "
                         "float64 tensor",
                         poisson::io_error);
    CHECK_THROWS_WITH_AS(c.get_u64("w"),
                         "checkpoint::get_u64 \"w\": the record is a float32 tensor, asked for "
                         "a u64 value",
                         poisson::io_error);
    CHECK_THROWS_WITH_AS(c.get<std::int32_t>("rng"), doctest::Contains("is a text"),
                         poisson::io_error);
}

TEST_CASE("checkpoint: get_into fills a destination of the stored shape") {
    const checkpoint c = small_checkpoint();
    xt::xarray<float> dest = xt::zeros<float>({2, 2});
    const float* storage = dest.data();
    c.get_into("w", dest);
    CHECK(dest == xt::xarray<float>{{1.5f, -2.0f}, {0.25f, 3.0f}});
    CHECK(dest.data() == storage);  // filled in place, not reallocated
}

TEST_CASE("checkpoint: get_into refuses a destination of another shape") {
    const checkpoint c = small_checkpoint();
    xt::xarray<float> dest = xt::zeros<float>({4});
    CHECK_THROWS_WITH_AS(c.get_into("w", dest),
                         "checkpoint::get_into \"w\": stored shape {2, 2}, destination shape {4}",
                         poisson::invalid_argument);
    CHECK(dest == xt::zeros<float>({4}));
}

TEST_CASE("checkpoint: a file truncated at any byte is refused") {
    const fs::path file = scratch_folder("truncated") / "t.ckpt";
    const std::vector<std::byte> bytes = small_checkpoint().to_bytes();
    for (std::size_t size = 0; size < bytes.size(); ++size) {
        write_bytes(file, bytes, size);
        CAPTURE(size);
        CHECK_THROWS_AS(checkpoint::load(file), poisson::io_error);
    }
    write_bytes(file, bytes, bytes.size());
    CHECK(checkpoint::load(file).get_u64("step") == 42);
}

TEST_CASE("checkpoint: a file with one byte changed anywhere is refused") {
    const fs::path file = scratch_folder("flipped") / "f.ckpt";
    const std::vector<std::byte> bytes = small_checkpoint().to_bytes();
    for (std::size_t at = 0; at < bytes.size(); ++at) {
        for (const unsigned mask : {0x01u, 0x80u, 0xffu}) {
            std::vector<std::byte> bad = bytes;
            bad[at] ^= static_cast<std::byte>(mask);
            write_bytes(file, bad, bad.size());
            CAPTURE(at);
            CAPTURE(mask);
            CHECK_THROWS_AS(checkpoint::load(file), poisson::io_error);
        }
    }
}

TEST_CASE("checkpoint: trailing bytes after a valid file are refused") {
    const fs::path file = scratch_folder("trailing") / "t.ckpt";
    std::vector<std::byte> bytes = small_checkpoint().to_bytes();
    bytes.push_back(std::byte{0});
    write_bytes(file, bytes, bytes.size());
    CHECK(message_of_load(file).find("its header declares") != std::string::npos);
}

TEST_CASE("checkpoint: load names the problem") {
    const fs::path folder = scratch_folder("messages");
    std::vector<std::byte> bytes = small_checkpoint().to_bytes();

    CHECK(message_of_load(folder / "absent.ckpt").find("absent.ckpt\": cannot read") !=
          std::string::npos);

    std::vector<std::byte> other = bytes;
    other[0] = std::byte{'X'};
    write_bytes(folder / "magic", other, other.size());
    CHECK(message_of_load(folder / "magic").find("not a checkpoint") != std::string::npos);

    other = bytes;
    put_u32(other, 8, 2);
    write_bytes(folder / "version", other, other.size());
    CHECK(message_of_load(folder / "version").find("format version 2") != std::string::npos);

    write_bytes(folder / "short", bytes, bytes.size() - 1);
    CHECK(message_of_load(folder / "short").find("(truncated)") != std::string::npos);

    other = bytes;
    other[30] ^= std::byte{1};
    write_bytes(folder / "crc", other, other.size());
    CHECK(message_of_load(folder / "crc").find("CRC-32 mismatch") != std::string::npos);
}

TEST_CASE("checkpoint: corrupt lengths under a valid CRC are refused without a huge allocation") {
    checkpoint c;
    c.put("t", xt::xarray<float>{1.0f, 2.0f});
    const std::vector<std::byte> bytes = c.to_bytes();
    // Layout: header 24, name length 24..27, name 28, kind 29, element 30, rank 31..34,
    // size 35..42, elements 43..50, CRC.
    SUBCASE("a tensor size of 2^62") {
        std::vector<std::byte> bad = bytes;
        bad[42] = std::byte{0x40};
        reseal(bad);
        CHECK_THROWS_WITH_AS(checkpoint::from_bytes(bad),
                             doctest::Contains("exceed the rest of the file"), poisson::io_error);
    }
    SUBCASE("a rank of 2^32 - 1") {
        std::vector<std::byte> bad = bytes;
        put_u32(bad, 31, 0xffffffffu);
        reseal(bad);
        CHECK_THROWS_WITH_AS(checkpoint::from_bytes(bad),
                             doctest::Contains("rank of 4294967295"), poisson::io_error);
    }
    SUBCASE("a name length of 2^32 - 1") {
        std::vector<std::byte> bad = bytes;
        put_u32(bad, 24, 0xffffffffu);
        reseal(bad);
        CHECK_THROWS_WITH_AS(checkpoint::from_bytes(bad), doctest::Contains("a record name"),
                             poisson::io_error);
    }
    SUBCASE("an unknown element type") {
        std::vector<std::byte> bad = bytes;
        bad[30] = std::byte{9};
        reseal(bad);
        CHECK_THROWS_WITH_AS(checkpoint::from_bytes(bad),
                             doctest::Contains("unknown element type code 9"), poisson::io_error);
    }
    SUBCASE("an unknown record kind") {
        std::vector<std::byte> bad = bytes;
        bad[29] = std::byte{7};
        reseal(bad);
        CHECK_THROWS_WITH_AS(checkpoint::from_bytes(bad),
                             doctest::Contains("unknown record kind 7"), poisson::io_error);
    }
    SUBCASE("a record count larger than the records") {
        std::vector<std::byte> bad = bytes;
        put_u32(bad, 12, 2);
        reseal(bad);
        CHECK_THROWS_AS(checkpoint::from_bytes(bad), poisson::io_error);
    }
    SUBCASE("a record count smaller than the records") {
        std::vector<std::byte> bad = bytes;
        put_u32(bad, 12, 0);
        reseal(bad);
        CHECK_THROWS_WITH_AS(checkpoint::from_bytes(bad),
                             doctest::Contains("bytes after the last of 0 records"),
                             poisson::io_error);
    }
}

TEST_CASE("checkpoint: saving over an existing file replaces it and leaves no temp file") {
    const fs::path folder = scratch_folder("overwrite");
    const fs::path file = folder / "model.ckpt";
    checkpoint first;
    first.put_u64("version", 1);
    first.save(file);
    checkpoint second;
    second.put_u64("version", 2);
    second.put("w", xt::xarray<double>{1.0, 2.0, 3.0});
    second.save(file);

    const checkpoint back = checkpoint::load(file);
    CHECK(back.get_u64("version") == 2);
    CHECK(back.get<double>("w") == xt::xarray<double>{1.0, 2.0, 3.0});
    CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 1);
}

TEST_CASE("checkpoint: a save removes temp files that killed saves of the same path left") {
    const fs::path folder = scratch_folder("stale");
    const fs::path stale = folder / ".model.ckpt.tmp-12345-0";
    const fs::path unrelated = folder / ".other.ckpt.tmp-12345-0";
    write_bytes(stale, {std::byte{1}}, 1);
    write_bytes(unrelated, {std::byte{1}}, 1);
    small_checkpoint().save(folder / "model.ckpt");
    CHECK_FALSE(fs::exists(stale));
    CHECK(fs::exists(unrelated));
    CHECK(fs::exists(folder / "model.ckpt"));
}

TEST_CASE("checkpoint: a failed save leaves the previous file intact and no temp file") {
    const fs::path folder = scratch_folder("failed");
    const fs::path file = folder / "model.ckpt";
    small_checkpoint().save(file);
    const auto before = checkpoint::load(file).to_bytes();

    // A non-empty folder at the target path: rename(2) cannot replace it.
    const fs::path blocked = folder / "blocked";
    fs::create_directories(blocked / "inside");
    checkpoint c;
    c.put_u64("x", 1);
    CHECK_THROWS_WITH_AS(c.save(blocked), doctest::Contains("cannot rename"), poisson::io_error);
    CHECK(fs::is_directory(blocked / "inside"));
    CHECK(checkpoint::load(file).to_bytes() == before);
    CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 2);

    CHECK_THROWS_WITH_AS(c.save(folder / "no such folder" / "x.ckpt"),
                         doctest::Contains("cannot create a temporary file"), poisson::io_error);
}
