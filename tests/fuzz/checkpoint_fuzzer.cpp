// libFuzzer target for the checkpoint loader. Before parsing, the size field and the CRC are
// rewritten to match the input, so the fuzzer gets past those checks and exercises the
// record parser; every input must then load or be refused with poisson::io_error, and a
// loaded checkpoint must serialise to bytes that load back to the same bytes.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "poisson/io/checkpoint.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

/// The input with its size field and trailing CRC made consistent with it.
std::vector<std::byte> sealed(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> bytes(size);
    if (size > 0) {
        std::memcpy(bytes.data(), data, size);
    }
    using poisson::io::checkpoint;
    if (size < checkpoint::header_size + checkpoint::trailer_size) {
        return bytes;
    }
    poisson::io::detail::store_le(bytes.data() + 16, static_cast<std::uint64_t>(size));
    const std::uint32_t crc = poisson::io::detail::crc32_of(std::span(bytes).first(size - 4));
    poisson::io::detail::store_le(bytes.data() + size - 4, crc);
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using poisson::io::checkpoint;
    const std::vector<std::byte> bytes = sealed(data, size);
    try {
        const checkpoint c = checkpoint::from_bytes(bytes, "fuzz");
        const std::vector<std::byte> again = c.to_bytes();
        check(checkpoint::from_bytes(again).to_bytes() == again);
        check(again.size() <= bytes.size());  // the parsed content never grows
    } catch (const poisson::io_error& e) {
        check(std::string_view(e.what()).starts_with("checkpoint::load \"fuzz\": "));
    }
    return 0;
}
