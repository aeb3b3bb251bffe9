#pragma once

/// @file
/// @brief Random bits to uniform floating-point numbers on the open interval (0, 1).

#include <concepts>
#include <cstdint>

namespace poisson {

/// @brief Maps 32 random bits to a `float` in (0, 1): the top 23 bits `m` give
/// `(2m + 1) / 2^24`, exactly representable, so the result is never 0 or 1.
///
/// The extremes are `2^-24` and `1 - 2^-24`, hence `-log(-log(u))` (a Gumbel variate) always
/// lies in [-2.8, 16.6].
constexpr float open_unit_float(std::uint32_t bits) noexcept {
    const auto m = static_cast<std::int32_t>(bits >> 9);
    return static_cast<float>(2 * m + 1) * 0x1p-24f;
}

/// @brief Maps 64 random bits to a `double` in (0, 1): the top 52 bits `m` give
/// `(2m + 1) / 2^53`, never 0 or 1.
constexpr double open_unit_double(std::uint64_t bits) noexcept {
    const auto m = static_cast<std::int64_t>(bits >> 12);
    return static_cast<double>(2 * m + 1) * 0x1p-53;
}

}  // namespace poisson
