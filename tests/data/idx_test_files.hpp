#pragma once

// Builders of tiny IDX files, raw and gzipped, for the data tests. They write the format
// from its definition (big-endian header) independently of the reader under test.

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace idx_test {

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

/// An IDX file: 00 00 type rank, big-endian sizes, then `values` as given.
inline bytes idx(const std::vector<std::uint32_t>& shape, const bytes& values,
                 std::uint8_t type = 0x08) {
    bytes out = {0, 0, type, static_cast<std::uint8_t>(shape.size())};
    for (const std::uint32_t extent : shape) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            out.push_back(static_cast<std::uint8_t>(extent >> shift));
        }
    }
    out.insert(out.end(), values.begin(), values.end());
    return out;
}

/// `count` values 0, 1, 2, ... (mod 256).
inline bytes counting(std::size_t count) {
    bytes values(count);
    for (std::size_t i = 0; i < count; ++i) {
        values[i] = static_cast<std::uint8_t>(i);
    }
    return values;
}

/// One gzip member holding `data`, made by zlib's deflate with a gzip wrapper.
inline bytes gzip(std::span<const std::uint8_t> data) {
    z_stream s{};
    if (deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("gzip: deflateInit2 failed");
    }
    bytes out(deflateBound(&s, static_cast<uLong>(data.size())) + 64);
    s.next_in = const_cast<Bytef*>(data.data());
    s.avail_in = static_cast<uInt>(data.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&s, Z_FINISH);
    out.resize(s.total_out);
    deflateEnd(&s);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("gzip: deflate did not finish");
    }
    return out;
}

inline void write(const fs::path& path, std::span<const std::uint8_t> data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

/// A fresh, empty folder under the build tree (POISSON_TEST_SCRATCH comes from CMake).
inline fs::path scratch_folder(const std::string& name) {
    const fs::path folder = fs::path(POISSON_TEST_SCRATCH) / name;
    fs::remove_all(folder);
    fs::create_directories(folder);
    return folder;
}

}  // namespace idx_test
