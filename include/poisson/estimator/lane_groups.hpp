#pragma once

/// @file
/// @brief Element indices handed to a SIMD kernel a register's worth at a time.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace poisson::detail {

/// Calls `call(group, used)` for `indices[0..count)`, `L` at a time, as a
/// `std::array<std::uint32_t, L>`. A last, partial group is padded with copies of its last
/// index: the kernels' lanes are independent, so the copies compute the same values as that
/// element, and the caller uses only the first `used`.
template <std::size_t L, class Call>
void for_each_padded_group(const std::uint32_t* indices, std::size_t count, Call&& call) {
    std::array<std::uint32_t, L> group;
    for (std::size_t first = 0; first < count; first += L) {
        const std::size_t used = std::min(L, count - first);
        std::copy_n(indices + first, used, group.begin());
        std::fill(group.begin() + std::ptrdiff_t(used), group.end(), group[used - 1]);
        call(group, used);
    }
}

}  // namespace poisson::detail
