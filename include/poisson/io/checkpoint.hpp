#pragma once

/// @file
/// @brief A set of named tensors, integers and texts saved to and loaded from one file.
///
/// File format, version 1. Every integer is little-endian on every machine.
///
///     offset 0   magic "POISCKPT" (8 bytes)
///            8   u32 format version (1)
///           12   u32 number of records
///           16   u64 size of the whole file in bytes
///           24   the records, sorted by name
///     size - 4   u32 CRC-32 (zlib's) of every byte before it
///
/// A record is `u32 name length, name bytes, u8 kind`, then by kind:
/// 1 tensor: `u8 element type, u32 rank, rank x u64 sizes, elements` (row-major);
/// 2 u64: 8 bytes; 3 text: `u64 length, bytes`.
/// Element types: 1 float32, 2 float64, 3 int32, 4 uint64 (floats as their IEEE-754 bits).

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <xtensor/xarray.hpp>

#include "poisson/detail/format.hpp"
#include "poisson/errors.hpp"
#include "poisson/io/atomic_file.hpp"

namespace poisson::io {

/// @brief The element types a checkpoint stores in tensors.
template <class T>
concept checkpoint_element = std::same_as<T, float> || std::same_as<T, double> ||
                             std::same_as<T, std::int32_t> || std::same_as<T, std::uint64_t>;

namespace detail {

enum class record_kind : std::uint8_t { tensor = 1, u64 = 2, text = 3 };
enum class element_code : std::uint8_t { float32 = 1, float64 = 2, int32 = 3, uint64 = 4 };

template <checkpoint_element T>
constexpr element_code element_code_of() noexcept {
    if constexpr (std::same_as<T, float>) {
        return element_code::float32;
    } else if constexpr (std::same_as<T, double>) {
        return element_code::float64;
    } else if constexpr (std::same_as<T, std::int32_t>) {
        return element_code::int32;
    } else {
        return element_code::uint64;
    }
}

/// Bytes per element; 0 for a code this version does not know.
constexpr std::size_t element_size(element_code code) noexcept {
    switch (code) {
        case element_code::float32:
        case element_code::int32: return 4;
        case element_code::float64:
        case element_code::uint64: return 8;
    }
    return 0;
}

inline std::string element_name(element_code code) {
    switch (code) {
        case element_code::float32: return "float32";
        case element_code::float64: return "float64";
        case element_code::int32: return "int32";
        case element_code::uint64: return "uint64";
    }
    return "unknown element type " + std::to_string(static_cast<unsigned>(code));
}

/// The unsigned integer with the bits of a `T`, for byte-order conversion.
template <class T>
using bits_of = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

template <std::unsigned_integral U>
void store_le(std::byte* out, U value) noexcept {
    for (std::size_t i = 0; i < sizeof(U); ++i) {
        out[i] = static_cast<std::byte>(value >> (8 * i));
    }
}

template <std::unsigned_integral U>
U load_le(const std::byte* in) noexcept {
    U value = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) {
        value |= static_cast<U>(std::to_integer<unsigned>(in[i])) << (8 * i);
    }
    return value;
}

template <std::unsigned_integral U>
void append_le(std::vector<std::byte>& out, U value) {
    const std::size_t at = out.size();
    out.resize(at + sizeof(U));
    store_le(out.data() + at, value);
}

/// Elements to little-endian bytes; a plain copy on little-endian machines.
template <checkpoint_element T>
std::vector<std::byte> encode_elements(const T* values, std::size_t count) {
    std::vector<std::byte> bytes(count * sizeof(T));
    if (count == 0) {
        return bytes;  // memcpy with a null pointer is undefined even for 0 bytes
    }
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(bytes.data(), values, bytes.size());
    } else {
        for (std::size_t i = 0; i < count; ++i) {
            store_le(bytes.data() + i * sizeof(T), std::bit_cast<bits_of<T>>(values[i]));
        }
    }
    return bytes;
}

template <checkpoint_element T>
void decode_elements(std::span<const std::byte> bytes, T* values) {
    const std::size_t count = bytes.size() / sizeof(T);
    if (count == 0) {
        return;
    }
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(values, bytes.data(), bytes.size());
    } else {
        for (std::size_t i = 0; i < count; ++i) {
            values[i] = std::bit_cast<T>(load_le<bits_of<T>>(bytes.data() + i * sizeof(T)));
        }
    }
}

/// CRC-32 of any length: zlib's `crc32` takes at most 4 GiB per call.
inline std::uint32_t crc32_of(std::span<const std::byte> bytes) noexcept {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    constexpr std::size_t chunk = std::size_t{1} << 30;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
        const auto n = static_cast<uInt>(std::min(chunk, bytes.size() - at));
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), n);
    }
    return static_cast<std::uint32_t>(crc);
}

inline std::string shape_text(std::span<const std::size_t> shape) {
    std::string text = "{";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        text += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return text + "}";
}

/// A bounds-checked cursor over the bytes of a file being loaded: every read first checks
/// that the file holds that many more bytes, so a corrupt length can never cause a read
/// past the end or an allocation larger than the file.
class byte_reader {
public:
    byte_reader(std::span<const std::byte> bytes, const std::string& context)
        : m_bytes(bytes), m_context(context) {}

    std::size_t remaining() const noexcept { return m_bytes.size() - m_at; }

    std::span<const std::byte> take(std::size_t count, std::string_view what) {
        if (count > remaining()) {
            throw io_error(m_context + ": " + std::string(what) + " needs " +
                           std::to_string(count) + " bytes at offset " + std::to_string(m_at) +
                           ", only " + std::to_string(remaining()) + " remain (corrupt)");
        }
        const auto part = m_bytes.subspan(m_at, count);
        m_at += count;
        return part;
    }

    template <std::unsigned_integral U>
    U take_le(std::string_view what) {
        return load_le<U>(take(sizeof(U), what).data());
    }

private:
    std::span<const std::byte> m_bytes;
    std::size_t m_at = 0;
    const std::string& m_context;
};

}  // namespace detail

/// @brief An in-memory set of named records (tensors, u64 values, texts) that is saved to
/// and loaded from one file.
///
/// Names are unique, non-empty byte strings; putting an existing name replaces the record,
/// whatever its type. Layers save under prefixed names (`conv1.weight`); `names()` lists them
/// in sorted order, which is also the order in the file, so equal contents give equal files.
/// Saving is atomic (see `write_file_atomically`); loading validates everything and refuses a
/// truncated or corrupt file with `poisson::io_error`.
class checkpoint {
public:
    /// @brief First 8 bytes of every checkpoint file.
    static constexpr std::string_view magic = "POISCKPT";
    /// @brief The format version this library writes and reads.
    static constexpr std::uint32_t format_version = 1;
    /// @brief Bytes of the header (magic, version, record count, file size).
    static constexpr std::size_t header_size = 24;
    /// @brief Bytes of the trailer (the CRC-32).
    static constexpr std::size_t trailer_size = 4;

    /// @brief Stores a copy of `values` (row-major) under `name`.
    /// @throws poisson::invalid_argument if `name` is empty.
    template <checkpoint_element T>
    void put(std::string name, const xt::xarray<T>& values) {
        check_name(name);
        record r;
        r.kind = detail::record_kind::tensor;
        r.element = detail::element_code_of<T>();
        r.shape.assign(values.shape().begin(), values.shape().end());
        r.bytes = detail::encode_elements(values.data(), values.size());
        m_records.insert_or_assign(std::move(name), std::move(r));
    }

    /// @brief Evaluates any xtensor expression of a supported element type and stores it.
    template <class E>
        requires checkpoint_element<typename E::value_type>
    void put(std::string name, const xt::xexpression<E>& expression) {
        put(std::move(name), xt::xarray<typename E::value_type>(expression));
    }

    /// @brief Stores one unsigned 64-bit value (a step counter, a seed).
    void put_u64(std::string name, std::uint64_t value) {
        check_name(name);
        record r;
        r.kind = detail::record_kind::u64;
        r.bytes.resize(8);
        detail::store_le(r.bytes.data(), value);
        m_records.insert_or_assign(std::move(name), std::move(r));
    }

    /// @brief Stores a text (any bytes, NUL included), e.g. a serialised RNG state.
    void put_text(std::string name, std::string text) {
        check_name(name);
        record r;
        r.kind = detail::record_kind::text;
        const auto* first = reinterpret_cast<const std::byte*>(text.data());
        r.bytes.assign(first, first + text.size());
        m_records.insert_or_assign(std::move(name), std::move(r));
    }

    /// @brief The tensor stored under `name`, with its stored shape.
    /// @throws poisson::io_error if there is no such record or it is not a tensor of `T`.
    template <checkpoint_element T>
    xt::xarray<T> get(std::string_view name) const {
        const record& r = find_tensor<T>(name, "checkpoint::get");
        xt::xarray<T> values = xt::xarray<T>::from_shape(r.shape);
        detail::decode_elements(std::span<const std::byte>(r.bytes), values.data());
        return values;
    }

    /// @brief Copies the tensor stored under `name` into `dest`, which must already have the
    /// stored shape (loading parameters into a built layer must not silently reshape it).
    /// @throws poisson::io_error if there is no such record or it is not a tensor of `T`.
    /// @throws poisson::invalid_argument naming both shapes if `dest`'s shape differs.
    template <checkpoint_element T>
    void get_into(std::string_view name, xt::xarray<T>& dest) const {
        const record& r = find_tensor<T>(name, "checkpoint::get_into");
        if (!std::ranges::equal(r.shape, dest.shape())) {
            const std::vector<std::size_t> dest_shape(dest.shape().begin(), dest.shape().end());
            throw invalid_argument("checkpoint::get_into \"" + std::string(name) +
                                   "\": stored shape " + detail::shape_text(r.shape) +
                                   ", destination shape " + detail::shape_text(dest_shape));
        }
        detail::decode_elements(std::span<const std::byte>(r.bytes), dest.data());
    }

    /// @brief The u64 value stored under `name`.
    /// @throws poisson::io_error if there is no such record or it is not a u64 value.
    std::uint64_t get_u64(std::string_view name) const {
        const record& r = find(name, "checkpoint::get_u64", detail::record_kind::u64);
        return detail::load_le<std::uint64_t>(r.bytes.data());
    }

    /// @brief The text stored under `name`.
    /// @throws poisson::io_error if there is no such record or it is not a text.
    std::string get_text(std::string_view name) const {
        const record& r = find(name, "checkpoint::get_text", detail::record_kind::text);
        return std::string(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
    }

    /// @brief Whether a record of any type is stored under `name`.
    bool contains(std::string_view name) const { return m_records.find(name) != m_records.end(); }

    /// @brief The names of all records, sorted (byte-wise).
    std::vector<std::string> names() const {
        std::vector<std::string> list;
        list.reserve(m_records.size());
        for (const auto& entry : m_records) {
            list.push_back(entry.first);
        }
        return list;
    }

    /// @brief The number of records.
    std::size_t size() const noexcept { return m_records.size(); }

    /// @brief What is stored under `name`, e.g. `tensor float32 [5,5,1,32]`, `u64` or `text`.
    /// @throws poisson::io_error if there is no such record.
    std::string describe(std::string_view name) const {
        const record& r = find(name, "checkpoint::describe");
        std::string text = type_name(r.kind, r.element);
        if (r.kind == detail::record_kind::tensor) {
            text.append(" ").append(poisson::detail::shape_to_text(r.shape));
        }
        return text;
    }

    /// @brief Whether `other` holds a record under `name` of the same type, shape and bytes.
    bool same_record(const checkpoint& other, std::string_view name) const {
        const auto mine = m_records.find(name);
        const auto theirs = other.m_records.find(name);
        if (mine == m_records.end() || theirs == other.m_records.end()) return false;
        const record& a = mine->second;
        const record& b = theirs->second;
        return a.kind == b.kind && a.element == b.element && a.shape == b.shape &&
               a.bytes == b.bytes;
    }

    /// @brief The complete file contents (header, records, CRC) in the format above.
    std::vector<std::byte> to_bytes() const;

    /// @brief Parses and validates file contents made by `to_bytes`.
    /// @param bytes the complete file contents.
    /// @param source names the bytes in error messages (`load` passes the path).
    /// @throws poisson::io_error on a bad magic or version, a size that differs from the
    /// header's, a CRC mismatch, or any malformed record.
    static checkpoint from_bytes(std::span<const std::byte> bytes,
                                 std::string_view source = "<memory>");

    /// @brief Writes the checkpoint to `path` atomically: a crash leaves the previous file or
    /// the new one, never a partial file. A killed save can leave a temp file
    /// `.<name>.tmp-*` next to `path`; the next save of the same path removes it.
    /// @throws poisson::io_error if any step fails; the previous file is then left intact.
    void save(const std::filesystem::path& path) const {
        const std::vector<std::byte> bytes = to_bytes();
        write_file_atomically(path, bytes, "checkpoint::save");
    }

    /// @brief Reads and validates the checkpoint file at `path`.
    /// @throws poisson::io_error if it cannot be read or is truncated or corrupt.
    static checkpoint load(const std::filesystem::path& path);

private:
    struct record {
        detail::record_kind kind = detail::record_kind::u64;
        detail::element_code element = detail::element_code::float32;  ///< tensors only
        std::vector<std::size_t> shape;                                  ///< tensors only
        std::vector<std::byte> bytes;  ///< little-endian elements, value or text
    };

    static void check_name(const std::string& name) {
        if (name.empty()) {
            throw invalid_argument("checkpoint::put: the record name is empty");
        }
        if (name.size() > std::numeric_limits<std::uint32_t>::max()) {
            throw invalid_argument("checkpoint::put: a record name of " +
                                   std::to_string(name.size()) + " bytes is too long");
        }
    }

    static std::string type_name(detail::record_kind kind,
                                 detail::element_code element = detail::element_code::float32) {
        switch (kind) {
            case detail::record_kind::tensor:
                return "a " + detail::element_name(element) + " tensor";
            case detail::record_kind::u64: return "a u64 value";
            case detail::record_kind::text: return "a text";
        }
        return "an unknown record";
    }

    static io_error mismatch(std::string_view name, std::string_view caller, const record& r,
                             const std::string& wanted) {
        return io_error(std::string(caller) + " \"" + std::string(name) + "\": the record is " +
                        type_name(r.kind, r.element) + ", asked for " + wanted);
    }

    const record& find(std::string_view name, std::string_view caller) const {
        const auto it = m_records.find(name);
        if (it == m_records.end()) {
            throw io_error(std::string(caller) + " \"" + std::string(name) +
                           "\": no such record");
        }
        return it->second;
    }

    const record& find(std::string_view name, std::string_view caller,
                       detail::record_kind kind) const {
        const record& r = find(name, caller);
        if (r.kind != kind) {
            throw mismatch(name, caller, r, type_name(kind));
        }
        return r;
    }

    template <checkpoint_element T>
    const record& find_tensor(std::string_view name, std::string_view caller) const {
        const record& r = find(name, caller);
        constexpr auto wanted = detail::element_code_of<T>();
        if (r.kind != detail::record_kind::tensor || r.element != wanted) {
            throw mismatch(name, caller, r, type_name(detail::record_kind::tensor, wanted));
        }
        return r;
    }

    static void append_record(std::vector<std::byte>& out, const std::string& name,
                              const record& r);
    static std::pair<std::string, record> parse_record(detail::byte_reader& in,
                                                       const std::string& context);
    static record parse_tensor(detail::byte_reader& in, const std::string& context);

    std::map<std::string, record, std::less<>> m_records;
};

inline void checkpoint::append_record(std::vector<std::byte>& out, const std::string& name,
                                      const record& r) {
    detail::append_le(out, static_cast<std::uint32_t>(name.size()));
    const auto* first = reinterpret_cast<const std::byte*>(name.data());
    out.insert(out.end(), first, first + name.size());
    out.push_back(static_cast<std::byte>(r.kind));
    if (r.kind == detail::record_kind::tensor) {
        out.push_back(static_cast<std::byte>(r.element));
        detail::append_le(out, static_cast<std::uint32_t>(r.shape.size()));
        for (const std::size_t extent : r.shape) {
            detail::append_le(out, static_cast<std::uint64_t>(extent));
        }
    } else if (r.kind == detail::record_kind::text) {
        detail::append_le(out, static_cast<std::uint64_t>(r.bytes.size()));
    }
    out.insert(out.end(), r.bytes.begin(), r.bytes.end());
}

inline std::vector<std::byte> checkpoint::to_bytes() const {
    std::vector<std::byte> out(header_size);
    for (const auto& [name, r] : m_records) {
        append_record(out, name, r);
    }
    const std::size_t total = out.size() + trailer_size;
    std::memcpy(out.data(), magic.data(), magic.size());
    detail::store_le(out.data() + 8, format_version);
    detail::store_le(out.data() + 12, static_cast<std::uint32_t>(m_records.size()));
    detail::store_le(out.data() + 16, static_cast<std::uint64_t>(total));
    detail::append_le(out, detail::crc32_of(out));
    return out;
}

inline checkpoint::record checkpoint::parse_tensor(detail::byte_reader& in,
                                                   const std::string& context) {
    record r;
    r.kind = detail::record_kind::tensor;
    const auto code = in.take_le<std::uint8_t>("an element type");
    r.element = static_cast<detail::element_code>(code);
    const std::size_t width = detail::element_size(r.element);
    if (width == 0) {
        throw io_error(context + ": unknown element type code " + std::to_string(code));
    }
    const auto rank = in.take_le<std::uint32_t>("a tensor rank");
    // Each size takes 8 bytes of the file, so this bounds the reservation by the file size.
    if (rank > in.remaining() / 8) {
        throw io_error(context + ": a tensor rank of " + std::to_string(rank) +
                       " does not fit in the rest of the file (corrupt)");
    }
    r.shape.reserve(rank);
    std::size_t count = 1;
    for (std::uint32_t axis = 0; axis < rank; ++axis) {
        const auto extent = in.take_le<std::uint64_t>("a tensor size");
        if (extent != 0 && count > in.remaining() / width / extent) {
            throw io_error(context + ": tensor sizes " + detail::shape_text(r.shape) + " then " +
                           std::to_string(extent) + " exceed the rest of the file (corrupt)");
        }
        count *= static_cast<std::size_t>(extent);
        r.shape.push_back(static_cast<std::size_t>(extent));
    }
    const auto payload = in.take(count * width, "the tensor elements");
    r.bytes.assign(payload.begin(), payload.end());
    return r;
}

inline std::pair<std::string, checkpoint::record> checkpoint::parse_record(
    detail::byte_reader& in, const std::string& context) {
    const auto name_size = in.take_le<std::uint32_t>("a record name length");
    const auto name_bytes = in.take(name_size, "a record name");
    std::string name(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
    if (name.empty()) {
        throw io_error(context + ": a record has an empty name (corrupt)");
    }
    const std::string where = context + ": record \"" + name + "\"";
    const auto kind = in.take_le<std::uint8_t>("a record kind");
    record r;
    switch (static_cast<detail::record_kind>(kind)) {
        case detail::record_kind::tensor: r = parse_tensor(in, where); break;
        case detail::record_kind::u64: {
            const auto value = in.take(8, "a u64 value");
            r.kind = detail::record_kind::u64;
            r.bytes.assign(value.begin(), value.end());
            break;
        }
        case detail::record_kind::text: {
            const auto length = in.take_le<std::uint64_t>("a text length");
            if (length > in.remaining()) {
                throw io_error(where + ": a text of " + std::to_string(length) + " bytes, only " +
                               std::to_string(in.remaining()) + " remain (corrupt)");
            }
            const auto text = in.take(static_cast<std::size_t>(length), "a text");
            r.kind = detail::record_kind::text;
            r.bytes.assign(text.begin(), text.end());
            break;
        }
        default:
            throw io_error(where + ": unknown record kind " + std::to_string(kind) +
                           " (corrupt)");
    }
    return {std::move(name), std::move(r)};
}

inline checkpoint checkpoint::from_bytes(std::span<const std::byte> bytes,
                                         std::string_view source) {
    const std::string context = "checkpoint::load \"" + std::string(source) + "\"";
    const std::size_t size = bytes.size();
    if (size >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) != 0) {
        throw io_error(context + ": not a checkpoint (the file does not start with \"" +
                       std::string(magic) + "\")");
    }
    if (size < header_size + trailer_size) {
        throw io_error(context + ": truncated: " + std::to_string(size) +
                       " bytes, a checkpoint has at least " +
                       std::to_string(header_size + trailer_size));
    }
    const auto version = detail::load_le<std::uint32_t>(bytes.data() + 8);
    if (version != format_version) {
        throw io_error(context + ": format version " + std::to_string(version) +
                       ", this library reads version " + std::to_string(format_version));
    }
    const auto declared = detail::load_le<std::uint64_t>(bytes.data() + 16);
    if (declared != size) {
        throw io_error(context + ": the file has " + std::to_string(size) +
                       " bytes, its header declares " + std::to_string(declared) +
                       (declared > size ? " (truncated)" : " (corrupt)"));
    }
    const auto content = bytes.first(size - trailer_size);
    const auto stored_crc = detail::load_le<std::uint32_t>(bytes.data() + size - trailer_size);
    if (const std::uint32_t crc = detail::crc32_of(content); crc != stored_crc) {
        throw io_error(context + ": CRC-32 mismatch (stored " + std::to_string(stored_crc) +
                       ", computed " + std::to_string(crc) + "): the file is corrupt");
    }

    detail::byte_reader in(content.subspan(header_size), context);
    const auto count = detail::load_le<std::uint32_t>(bytes.data() + 12);
    checkpoint result;
    for (std::uint32_t i = 0; i < count; ++i) {
        auto [name, r] = parse_record(in, context);
        if (!result.m_records.emplace(name, std::move(r)).second) {
            throw io_error(context + ": record \"" + name + "\" appears twice (corrupt)");
        }
    }
    if (in.remaining() != 0) {
        throw io_error(context + ": " + std::to_string(in.remaining()) +
                       " bytes after the last of " + std::to_string(count) +
                       " records (corrupt)");
    }
    return result;
}

inline checkpoint checkpoint::load(const std::filesystem::path& path) {
    const std::string context = "checkpoint::load \"" + path.string() + "\"";
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
        throw io_error(context + ": cannot read: " + ec.message());
    }
    std::ifstream file(path, std::ios::binary);
    std::vector<std::byte> bytes(static_cast<std::size_t>(size));
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (!file || file.peek() != std::ifstream::traits_type::eof()) {
        throw io_error(context + ": cannot read its " + std::to_string(size) +
                       " bytes (the file changed or is unreadable)");
    }
    return from_bytes(bytes, path.string());
}

}  // namespace poisson::io
