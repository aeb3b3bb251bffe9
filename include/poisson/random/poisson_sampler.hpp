#pragma once

/// @file
/// @brief Exact Poisson sampling: inversion for small rates, Hörmann's PTRS for large ones.

#include <cmath>
#include <concepts>
#include <limits>
#include <string>

#include "poisson/errors.hpp"
#include "poisson/math/log_factorial.hpp"
#include "poisson/random/concepts.hpp"

namespace poisson {

/// @brief Rates at and above this use PTRS; below it, inversion.
inline constexpr double poisson_ptrs_threshold = 10.0;

namespace detail {

/// Inversion by sequential search: the smallest x with u <= P(X <= x), the pmf built by
/// p_0 = e^-rate, p_x = p_(x-1) * rate / x. Subtracting the p_x from u instead of summing
/// them compares the same quantities.
template <uniform_stream S>
double poisson_inversion(double rate, S& s) {
    const double p0 = std::exp(-rate);
    for (;;) {
        double u = s.template next<double>();
        double p = p0;
        double x = 0.0;
        // In exact arithmetic the loop ends with probability 1. Rounding can leave a residue
        // of u of order 1e-16 once p underflows; that draw is then repeated, which changes
        // the distribution by less than the resolution of a double uniform.
        while (u > p && p > 0.0) {
            u -= p;
            x += 1.0;
            p *= rate / x;
        }
        if (p > 0.0) return x;
    }
}

/// The constants of PTRS for one rate (Hörmann 1993, table 1 and step 0).
struct ptrs_constants {
    double rate, log_rate, b, a, alpha, v_r;

    explicit ptrs_constants(double lambda) noexcept
        : rate(lambda)
        , log_rate(std::log(lambda))
        , b(0.931 + 2.53 * std::sqrt(lambda))
        , a(-0.059 + 0.02483 * b)
        , alpha(1.1239 + 1.1328 / (b - 3.4))
        , v_r(0.9277 - 3.6224 / (b - 2.0)) {}
};

/// PTRS: k = floor((2a / u_s + b) u + rate + 0.43) with u uniform on (-1/2, 1/2) and
/// u_s = 1/2 - |u| is a draw from a hat that dominates the pmf; v uniform on (0, 1) accepts
/// it at once inside the squeeze, and otherwise when v alpha / (a / u_s^2 + b) <= p_k.
template <uniform_stream S>
double poisson_ptrs(double rate, S& s) {
    const ptrs_constants c(rate);
    for (;;) {
        const double u = s.template next<double>() - 0.5;
        const double v = s.template next<double>();
        const double us = 0.5 - std::abs(u);
        const double k = std::floor((2.0 * c.a / us + c.b) * u + rate + 0.43);

        // Squeeze: a region that lies under the pmf, accepted without evaluating it.
        if (us >= 0.07 && v <= c.v_r) return k;
        // Negative counts, and the thin tails of the hat where the squeeze test is cheap.
        if (k < 0.0 || (us < 0.013 && v > us)) continue;

        const double log_accept = std::log(v * c.alpha / (c.a / (us * us) + c.b));
        if (log_accept <= k * c.log_rate - rate - log_factorial(k)) return k;
    }
}

}  // namespace detail

/// @brief An exact draw from Poisson(rate), returned as a count of type `T`.
///
/// Inversion by sequential search from 0 for rate < 10 (one uniform per draw, about
/// rate + 1 steps); for rate >= 10 W. Hörmann's PTRS, transformed rejection with squeeze
/// ("The transformed rejection method for generating Poisson random variables", Insurance:
/// Mathematics and Economics 12, 1993), 2.25 to 2.7 uniforms per draw (measured). Neither
/// truncates the tail.
///
/// The work is done in double whatever `T`, with `next<double>()` uniforms: `T` only sets
/// the type of the result, so float and double give the same counts from the same stream (a
/// float holds counts up to 2^24 exactly). The acceptance test of PTRS compares log-pmfs
/// of size rate * log(rate) to an absolute error of about 1e-16 times that: exact to double
/// precision up to rates of about 1e7 (tested), and slowly less so beyond. Thread-safe: no
/// global state (not even `signgam`). rate 0 gives 0 and draws nothing.
///
/// @pre `rate` is finite and >= 0; checked, since PTRS would never end on an infinite rate.
/// @throws invalid_argument otherwise.
template <std::floating_point T, uniform_stream S>
T sample_poisson(T rate, S& s) {
    const double lambda = static_cast<double>(rate);
    if (!(lambda >= 0.0 && lambda <= std::numeric_limits<double>::max())) {
        throw invalid_argument("sample_poisson: rate " + std::to_string(lambda) +
                               " is not finite and >= 0");
    }
    if (lambda == 0.0) return T(0);
    if (lambda < poisson_ptrs_threshold)
        return static_cast<T>(detail::poisson_inversion(lambda, s));
    return static_cast<T>(detail::poisson_ptrs(lambda, s));
}

}  // namespace poisson
