#pragma once

/// @file
/// @brief Reader for IDX files (the MNIST format), raw or gzip-compressed.
///
/// An IDX file is, big-endian on every machine: two zero bytes, an element-type byte (only
/// 0x08, unsigned byte, is supported here), the number of dimensions `n`, then `n` 32-bit
/// sizes, then the elements in row-major order. MNIST images are 3-dimensional
/// (count, rows, columns), labels 1-dimensional. Gzip input is recognised by its magic
/// bytes 1f 8b, never by the file name.

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "poisson/errors.hpp"

namespace poisson::data {

/// @brief How `read_idx` treats its input.
struct idx_options {
    /// Inflate input that starts with the gzip magic bytes; when false such input is refused.
    bool decompress = true;
    /// Largest IDX content accepted, in bytes (after decompression; also bounds the file
    /// size). A header that declares more, or a gzip stream that inflates to more, is
    /// refused before that much memory is used: a "zip bomb" fails cleanly.
    std::size_t max_bytes = std::size_t{1} << 30;
};

/// @brief The contents of one IDX file of unsigned bytes.
struct idx_file {
    std::string source;               ///< the path or name it was read from, for messages
    std::vector<std::size_t> shape;   ///< the sizes from the header, outermost first
    std::vector<std::uint8_t> values; ///< the elements, row-major; size = product of shape
};

namespace detail {

/// The layout an IDX header announces.
struct idx_header {
    std::vector<std::size_t> shape;
    std::size_t header_bytes = 0;
    std::size_t payload_bytes = 0;
};

inline std::string hex_byte(std::uint8_t b) {
    constexpr std::string_view digits = "0123456789abcdef";
    return std::string("0x") + digits[b >> 4] + digits[b & 0xf];
}

inline std::string shape_text(std::span<const std::size_t> shape) {
    std::string text = "{";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        text += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return text + "}";
}

inline bool is_gzip(std::span<const std::uint8_t> bytes) noexcept {
    return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

/// Checks the fixed first four bytes (as many of them as are present).
inline void check_idx_prefix(std::span<const std::uint8_t> bytes, const std::string& context) {
    if (bytes.size() >= 2 && (bytes[0] != 0 || bytes[1] != 0)) {
        throw io_error(context + ": not an IDX file: it starts with " + hex_byte(bytes[0]) +
                       " " + hex_byte(bytes[1]) + ", not two zero bytes");
    }
    if (bytes.size() >= 3 && bytes[2] != 0x08) {
        throw io_error(context + ": element type " + hex_byte(bytes[2]) +
                       " is not supported (only 0x08, unsigned byte)");
    }
    if (bytes.size() >= 4 && bytes[3] == 0) {
        throw io_error(context + ": the header declares 0 dimensions");
    }
}

/// Parses the header at the start of `bytes`, or returns nothing when `bytes` is too short
/// to hold all of it yet. Throws on a header that is wrong whatever follows.
inline std::optional<idx_header> parse_idx_header(std::span<const std::uint8_t> bytes,
                                                  const std::string& context,
                                                  std::size_t max_bytes) {
    check_idx_prefix(bytes, context);
    if (bytes.size() < 4 || bytes.size() < 4 + 4 * std::size_t{bytes[3]}) {
        return std::nullopt;
    }
    idx_header header;
    header.header_bytes = 4 + 4 * std::size_t{bytes[3]};
    std::size_t count = 1;
    for (std::size_t axis = 0; axis < bytes[3]; ++axis) {
        const std::uint8_t* p = bytes.data() + 4 + 4 * axis;
        const std::size_t extent = std::size_t{p[0]} << 24 | std::size_t{p[1]} << 16 |
                                   std::size_t{p[2]} << 8 | std::size_t{p[3]};
        header.shape.push_back(extent);
        if (extent != 0 && count > std::numeric_limits<std::size_t>::max() / extent) {
            throw io_error(context + ": the sizes " + shape_text(header.shape) +
                           "... overflow when multiplied");
        }
        count *= extent;
    }
    if (max_bytes < header.header_bytes || count > max_bytes - header.header_bytes) {
        throw io_error(context + ": the header declares sizes " + shape_text(header.shape) +
                       ", " + std::to_string(count) + " bytes, above the cap of " +
                       std::to_string(max_bytes));
    }
    header.payload_bytes = count;
    return header;
}

/// Parses complete IDX content: the header and exactly the payload it declares.
inline idx_file parse_idx(std::span<const std::uint8_t> bytes, const std::string& source,
                          const std::string& context, std::size_t max_bytes) {
    const auto header = parse_idx_header(bytes, context, max_bytes);
    if (!header) {
        const std::size_t needed = bytes.size() < 4 ? 4 : 4 + 4 * std::size_t{bytes[3]};
        throw io_error(context + ": short header: " + std::to_string(bytes.size()) +
                       " bytes, the header needs " + std::to_string(needed));
    }
    const std::size_t payload = bytes.size() - header->header_bytes;
    if (payload != header->payload_bytes) {
        throw io_error(context + ": the payload has " + std::to_string(payload) +
                       " bytes, the header declares " + std::to_string(header->payload_bytes) +
                       " (sizes " + shape_text(header->shape) + ")");
    }
    idx_file file;
    file.source = source;
    file.shape = header->shape;
    file.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header->header_bytes),
                       bytes.end());
    return file;
}

/// Inflates a gzip stream (several concatenated members allowed), stopping as soon as the
/// output exceeds what the IDX header inside declares, or `max_bytes` before the header is
/// complete, so that no input makes it allocate more than about twice the legitimate size.
class idx_inflater {
public:
    idx_inflater(std::span<const std::uint8_t> input, const std::string& context,
                 std::size_t max_bytes)
        : m_input(input), m_context(context), m_max_bytes(max_bytes), m_limit(max_bytes) {
        if (inflateInit2(&m_stream, 16 + MAX_WBITS) != Z_OK) {
            throw io_error(m_context + ": cannot start zlib: " + zlib_message());
        }
    }
    idx_inflater(const idx_inflater&) = delete;
    idx_inflater& operator=(const idx_inflater&) = delete;
    ~idx_inflater() { inflateEnd(&m_stream); }

    /// The decompressed bytes, header included.
    std::vector<std::uint8_t> run() {
        for (;;) {
            grow_output();
            const std::size_t before = m_consumed + m_produced;
            const int rc = step();
            check_size();
            if (rc == Z_BUF_ERROR && m_consumed + m_produced == before &&
                m_consumed < m_input.size() && m_stream.avail_out > 0) {
                throw io_error(m_context + ": the gzip data is corrupt: zlib made no progress");
            }
            if (rc == Z_STREAM_END) {
                if (m_consumed == m_input.size()) {
                    break;
                }
                start_next_member();
            } else if (rc == Z_BUF_ERROR || rc == Z_OK) {
                if (m_consumed == m_input.size() && m_stream.avail_out > 0) {
                    throw io_error(m_context + ": the gzip data is truncated (it ends after " +
                                   std::to_string(m_produced) + " decompressed bytes)");
                }
            } else {
                throw io_error(m_context + ": the gzip data is corrupt: " + zlib_message());
            }
        }
        m_output.resize(m_produced);
        return std::move(m_output);
    }

private:
    std::string zlib_message() const {
        return m_stream.msg ? std::string(m_stream.msg) : std::string("no detail from zlib");
    }

    /// Doubles the output buffer when full, never beyond one byte past the current limit:
    /// that byte is how output beyond the limit is detected.
    void grow_output() {
        if (m_produced < m_output.size()) {
            return;
        }
        const std::size_t ceiling = m_limit == std::numeric_limits<std::size_t>::max()
                                        ? m_limit
                                        : m_limit + 1;
        const std::size_t wanted = std::max<std::size_t>(m_output.size() * 2, 1 << 16);
        m_output.resize(std::min(wanted, ceiling));
    }

    int step() {
        const std::size_t in_left = m_input.size() - m_consumed;
        const std::size_t out_left = m_output.size() - m_produced;
        const auto avail_in = static_cast<uInt>(std::min<std::size_t>(in_left, UINT_MAX));
        const auto avail_out = static_cast<uInt>(std::min<std::size_t>(out_left, UINT_MAX));
        // zlib's interface is not const-correct; it never writes through next_in.
        m_stream.next_in = const_cast<Bytef*>(m_input.data() + m_consumed);
        m_stream.avail_in = avail_in;
        m_stream.next_out = m_output.data() + m_produced;
        m_stream.avail_out = avail_out;
        const int rc = inflate(&m_stream, Z_NO_FLUSH);
        m_consumed += avail_in - m_stream.avail_in;
        m_produced += avail_out - m_stream.avail_out;
        return rc;
    }

    /// Once the IDX header is out, the limit becomes the exact size it declares.
    void check_size() {
        if (!m_header_known) {
            const auto header = parse_idx_header({m_output.data(), m_produced}, m_context,
                                                 m_max_bytes);
            if (header) {
                m_header_known = true;
                m_limit = header->header_bytes + header->payload_bytes;
            }
        }
        if (m_produced > m_limit) {
            throw io_error(m_context + (m_header_known
                                            ? ": trailing bytes after the " +
                                                  std::to_string(m_limit) +
                                                  " bytes the header declares"
                                            : ": decompresses to more than the cap of " +
                                                  std::to_string(m_max_bytes) + " bytes"));
        }
    }

    void start_next_member() {
        if (!is_gzip(m_input.subspan(m_consumed))) {
            throw io_error(m_context + ": " + std::to_string(m_input.size() - m_consumed) +
                           " bytes of trailing garbage after the gzip data");
        }
        if (inflateReset(&m_stream) != Z_OK) {
            throw io_error(m_context + ": cannot restart zlib: " + zlib_message());
        }
    }

    std::span<const std::uint8_t> m_input;
    const std::string& m_context;
    std::size_t m_max_bytes;
    std::size_t m_limit;
    bool m_header_known = false;
    z_stream m_stream{};
    std::vector<std::uint8_t> m_output;
    std::size_t m_consumed = 0;
    std::size_t m_produced = 0;
};

inline std::vector<std::uint8_t> read_whole_file(const std::filesystem::path& path,
                                                 const std::string& context,
                                                 std::size_t max_bytes) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw io_error(context + ": is a folder, not a file");
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
        throw io_error(context + ": cannot read: " + ec.message());
    }
    if (size > max_bytes) {
        throw io_error(context + ": the file has " + std::to_string(size) +
                       " bytes, above the cap of " + std::to_string(max_bytes));
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    std::ifstream file(path, std::ios::binary);
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (!file || file.peek() != std::ifstream::traits_type::eof()) {
        throw io_error(context + ": cannot read its " + std::to_string(size) +
                       " bytes (the file changed or is unreadable)");
    }
    return bytes;
}

}  // namespace detail

/// @brief Reads IDX content from memory, inflating it first if it starts with 1f 8b.
///
/// Checks: not empty; gzip data complete and uncorrupted (with `options.decompress`,
/// else gzip data is refused); two zero bytes; element type 0x08; at least one dimension;
/// sizes whose product neither overflows nor exceeds `options.max_bytes`; a payload of
/// exactly the declared size (one byte short or one byte more are both errors).
/// @param bytes the IDX content, raw or gzip-compressed.
/// @param source names the data in error messages, e.g. `read_idx "<source>": ...`.
/// @param options whether gzip input is inflated, and the size cap.
/// @throws poisson::io_error naming `source` and the problem.
inline idx_file read_idx(std::span<const std::uint8_t> bytes, std::string_view source,
                         const idx_options& options = {}) {
    const std::string name(source);
    const std::string context = "read_idx \"" + name + "\"";
    if (bytes.empty()) {
        throw io_error(context + ": the file is empty");
    }
    if (!detail::is_gzip(bytes)) {
        return detail::parse_idx(bytes, name, context, options.max_bytes);
    }
    if (!options.decompress) {
        throw io_error(context + ": the data is gzip-compressed (it starts with 1f 8b) but " +
                       "decompression is disabled");
    }
    const std::vector<std::uint8_t> content =
        detail::idx_inflater(bytes, context, options.max_bytes).run();
    return detail::parse_idx(content, name, context, options.max_bytes);
}

/// @brief Reads the IDX file at `path`, raw or gzip-compressed (see the overload above).
/// @throws poisson::io_error naming the path and the problem.
inline idx_file read_idx(const std::filesystem::path& path, const idx_options& options = {}) {
    const std::string context = "read_idx \"" + path.string() + "\"";
    const auto bytes = detail::read_whole_file(path, context, options.max_bytes);
    return read_idx(bytes, path.string(), options);
}

/// @brief Checks that `file` holds images: 3 dimensions (count, rows, columns).
/// @throws poisson::io_error naming the file, e.g. when it is a labels file.
inline void require_images(const idx_file& file) {
    if (file.shape.size() == 3) {
        return;
    }
    const std::string hint = file.shape.size() == 1 ? ": a labels file, not images" : "";
    throw io_error("read_idx_images \"" + file.source + "\": sizes " +
                   detail::shape_text(file.shape) + " have " +
                   std::to_string(file.shape.size()) + " dimensions, images have 3" + hint);
}

/// @brief Checks that `file` holds class labels: 1 dimension, every value at most 9.
/// @throws poisson::io_error naming the file, e.g. when it is an images file, or the first
/// label above 9 and its index.
inline void require_labels(const idx_file& file) {
    if (file.shape.size() != 1) {
        const std::string hint = file.shape.size() == 3 ? ": an images file, not labels" : "";
        throw io_error("read_idx_labels \"" + file.source + "\": sizes " +
                       detail::shape_text(file.shape) + " have " +
                       std::to_string(file.shape.size()) + " dimensions, labels have 1" + hint);
    }
    const auto bad = std::ranges::find_if(file.values, [](std::uint8_t v) { return v > 9; });
    if (bad != file.values.end()) {
        throw io_error("read_idx_labels \"" + file.source + "\": label " +
                       std::to_string(*bad) + " at index " +
                       std::to_string(bad - file.values.begin()) + " is above 9");
    }
}

/// @brief Reads an IDX images file (3 dimensions) from `path`.
/// @throws poisson::io_error as `read_idx` and `require_images`.
inline idx_file read_idx_images(const std::filesystem::path& path,
                                const idx_options& options = {}) {
    idx_file file = read_idx(path, options);
    require_images(file);
    return file;
}

/// @brief Reads an IDX labels file (1 dimension, values 0 to 9) from `path`.
/// @throws poisson::io_error as `read_idx` and `require_labels`.
inline idx_file read_idx_labels(const std::filesystem::path& path,
                                const idx_options& options = {}) {
    idx_file file = read_idx(path, options);
    require_labels(file);
    return file;
}

}  // namespace poisson::data
