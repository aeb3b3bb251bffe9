// libFuzzer target for the IDX reader: any input must either read, with a payload of exactly
// the size the shape gives, or be refused with a poisson::io_error from read_idx. Anything
// else (another exception, a sanitizer report, a size mismatch) is a bug.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "poisson/data/idx.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    poisson::data::idx_options options;
    // A smaller cap than the default keeps every run fast and far below libFuzzer's memory
    // limit; the code paths are the same.
    options.max_bytes = std::size_t{16} << 20;
    try {
        const auto file = poisson::data::read_idx(std::span(data, size), "fuzz", options);
        std::size_t count = 1;
        for (const std::size_t extent : file.shape) {
            count *= extent;
        }
        check(!file.shape.empty() && count == file.values.size());
        check(file.values.size() <= options.max_bytes);
        try {
            poisson::data::require_labels(file);
            check(file.shape.size() == 1);
        } catch (const poisson::io_error& e) {
            check(std::string_view(e.what()).starts_with("read_idx_labels \"fuzz\": "));
        }
    } catch (const poisson::io_error& e) {
        check(std::string_view(e.what()).starts_with("read_idx \"fuzz\": "));
    }
    return 0;
}
