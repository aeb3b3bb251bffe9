#pragma once

/// @file
/// @brief The Poisson pmf and its upper tail, computed in log space.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "poisson/math/log_factorial.hpp"

namespace poisson {

/// @brief `log P(X = i)` for `X ~ Poisson(rate)`: `i log(rate) - rate - log(i!)`.
///
/// At `rate = 0` this is 0 for `i = 0` and `-inf` otherwise (never `0 * log 0 = NaN`).
/// @pre `rate` is finite and `>= 0`.
inline double poisson_log_pmf(std::size_t i, double rate) {
    if (rate == 0.0) {
        return i == 0 ? 0.0 : -std::numeric_limits<double>::infinity();
    }
    const auto x = static_cast<double>(i);
    return x * std::log(rate) - rate - log_factorial(x);
}

namespace detail {

/// A count beyond which `P(X > count; rate)` is far below 1e-300 (Chernoff bound for a tail
/// 40 standard deviations out, plus a margin for small rates).
inline std::size_t negligible_tail_start(double rate) {
    return static_cast<std::size_t>(std::ceil(rate + 40.0 * std::sqrt(rate) + 60.0));
}

}  // namespace detail

/// @brief The smallest `k` with `P(X > k; rate) <= eps`, `X ~ Poisson(rate)`.
///
/// Sums the pmf from far in the tail towards the mode, smallest terms first, so the tail is
/// accurate even when it is many orders of magnitude below 1. Built on `poisson_log_pmf`:
/// one thread at a time.
/// @pre `rate` finite and `>= 0`; `0 < eps < 1`.
inline std::size_t poisson_tail_quantile(double rate, double eps) {
    if (rate == 0.0) {
        return 0;
    }
    std::size_t k = detail::negligible_tail_start(rate);
    double tail = 0.0;  // P(X > k)
    while (k > 0) {
        const double with_k = tail + std::exp(poisson_log_pmf(k, rate));  // P(X > k - 1)
        if (with_k > eps) {
            break;
        }
        tail = with_k;
        --k;
    }
    return k;
}

/// @brief `P(X > k; rate)`, the probability mass a truncation to `0..k` discards.
///
/// Sums the pmf from far in the tail down to `k + 1`, smallest terms first. Built on
/// `poisson_log_pmf`: one thread at a time.
/// @pre `rate` finite and `>= 0`.
inline double poisson_upper_tail(std::size_t k, double rate) {
    if (rate == 0.0) {
        return 0.0;
    }
    const std::size_t end = std::max(detail::negligible_tail_start(rate), k + 1);
    double tail = 0.0;
    for (std::size_t i = end; i > k; --i) {  // smallest terms first
        tail += std::exp(poisson_log_pmf(i, rate));
    }
    return std::min(tail, 1.0);
}

}  // namespace poisson
