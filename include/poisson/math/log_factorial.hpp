#pragma once

/// @file
/// @brief `log k!`, safe to call from several threads at once.

#include <cmath>

namespace poisson {

/// @brief `log k!` for an integer `k >= 0`.
///
/// Not `std::lgamma`: glibc's writes the global `signgam`, a
/// data race when layers sample on several threads. Exact products below 10; above, Stirling's
/// series for log Gamma(k + 1) to the n^-9 term, whose error is below 1e-14 there.
inline double log_factorial(double k) noexcept {
    if (k < 10.0) {
        double product = 1.0;
        for (double i = 2.0; i <= k; i += 1.0) product *= i;
        return std::log(product);
    }
    constexpr double half_log_two_pi = 0.91893853320467274178;
    const double n = k + 1.0;
    const double r = 1.0 / n;
    const double r2 = r * r;
    const double series =
        r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
    return (n - 0.5) * std::log(n) - n + half_log_two_pi + series;
}

}  // namespace poisson
