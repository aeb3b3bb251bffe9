#pragma once

/// @file
/// @brief The Gumbel-max sample of a truncated Poisson and its softmax relaxation, shared by
/// the Gumbel estimators.
///
/// With `E_i = -log u_i` standard exponential, the Gumbel-perturbed logits are
/// `log p_i + g_i = -log(E_i / p_i)`, so the Gumbel-max count is the category with the
/// smallest "arrival time" `T_i = E_i / p_i` (an exponential race), and the relaxed sample at
/// temperature `tau` has weights `y_i ~ (T_c / T_i)^(1/tau)` with `c` the winner. Working with
/// `T_i` costs one logarithm per category, and none of the `lgamma` calls: `p_i` comes from the
/// recurrence `p_{i+1} = p_i * rate / (i + 1)`, scaled so that the mode has `p = 1` (the
/// normalisation of the pmf cancels, as it does in Gumbel-max).
///
/// Categories whose pmf is below `exp(-window_width(tau))` times the mode's are skipped: no
/// uniform on (0, 1) that our providers produce lets them win (the Gumbel noise lies in
/// [-2.8, 16.6]) and their softmax weight is below 2^-30 of the winner's. This turns the cost of
/// a small rate into a few categories even when the batch's largest rate makes `k` large.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <span>
#include <type_traits>

#include "poisson/estimator/concepts.hpp"
#include "poisson/random/concepts.hpp"

namespace poisson::detail {

/// The categories `lo..hi` (inclusive) of one element that can matter.
struct category_window {
    std::size_t lo;
    std::size_t hi;
};

/// Width, in log-pmf units below the mode, of the categories that are kept.
/// 19.4 covers the spread of the Gumbel noise; 21 tau makes the softmax weight <= e^-21.
template <std::floating_point T>
T window_width(T tau) {
    const T width = T(20) + T(21) * tau;
    // Keep exp(-width) a normal float; beyond tau ~ 2.9 the skipped weights may reach 1e-5.
    return std::is_same_v<T, float> ? std::min(width, T(80)) : std::min(width, T(700));
}

/// Writes the pmf relative to the mode, `p[i] = P(i) / P(mode)`, for the categories of `0..k`
/// whose value is at least `exp(-width) * min(1, rate)`, and returns them. The factor `rate`
/// keeps count 1 for tiny rates: its weight is of order `rate`, but so is the divisor of the
/// derivative `Var_y / (tau rate)`, to which it contributes a term of order 1.
template <std::floating_point T>
category_window relative_pmf(T rate, std::size_t k, T width, std::span<T> p) {
    const std::size_t mode = std::min(static_cast<std::size_t>(rate), k);
    const double floor = std::exp(-static_cast<double>(width)) * std::min(1.0, double(rate));
    const double r = rate;
    p[mode] = T(1);

    std::size_t lo = mode;
    for (double q = 1.0; lo > 0;) {  // p_{i-1} = p_i * i / rate
        q *= static_cast<double>(lo) / r;
        if (q < floor) break;
        p[--lo] = static_cast<T>(q);
    }
    std::size_t hi = mode;
    for (double q = 1.0; hi < k;) {  // p_{i+1} = p_i * rate / (i + 1)
        q *= r / static_cast<double>(hi + 1);
        if (q < floor) break;
        p[++hi] = static_cast<T>(q);
    }
    return {lo, hi};
}

/// Skips `n` uniforms of a stream: in O(1) where the stream can jump, else by drawing them.
template <class T, class Stream>
void skip_uniforms(Stream& stream, std::size_t n) {
    if constexpr (requires { stream.discard(n); }) {
        stream.discard(n);
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            (void)stream.template next<T>();
        }
    }
}

/// Count, relaxed sample and `Var_y(i)` of the softmax weights `(T_c / T_i)^(1/tau)`.
template <std::floating_point T>
struct relaxation {
    std::size_t count;
    T relaxed;
    double variance;
};

/// Moments of the weights `(t[c] / t[i])^(1/tau)` over the window, taken about the winner `c`
/// so that the variance does not cancel catastrophically at large counts.
template <std::floating_point T>
relaxation<T> relax(category_window w, std::size_t c, T tau, std::span<T> t) {
    const T inv_tau = T(1) / tau;
    const T tc = t[c];
    double sum = 0.0, first = 0.0, second = 0.0;
    for (std::size_t i = w.lo; i <= w.hi; ++i) {
        const T ratio = tc / t[i];
        const double weight = tau == T(1) ? ratio : std::exp(std::log(ratio) * inv_tau);
        const double offset = static_cast<double>(i) - static_cast<double>(c);
        sum += weight;
        first += weight * offset;
        second += weight * offset * offset;
    }
    const double mean = first / sum;
    const double variance = std::max(0.0, second / sum - mean * mean);
    return {c, static_cast<T>(static_cast<double>(c) + mean), variance};
}

/// Gumbel-max count over `0..k` and its relaxation. Writes the relative pmf to `p` and the
/// arrival times to `t` (each of `k + 1` values; they may be the same span, as the pmf is read
/// before the time overwrites it). Category `i` always uses uniform number `i` of the
/// element's stream, whatever `k` is.
template <std::floating_point T, uniform_stream S>
relaxation<T> gumbel_race(T rate, std::size_t k, T tau, std::span<T> p, std::span<T> t,
                          S& stream, category_window& window) {
    window = relative_pmf(rate, k, window_width(tau), p);
    skip_uniforms<T>(stream, window.lo);
    std::size_t winner = window.lo;
    T best = std::numeric_limits<T>::infinity();
    for (std::size_t i = window.lo; i <= window.hi; ++i) {
        const T arrival = -std::log(stream.template next<T>()) / p[i];  // E_i / p_i
        t[i] = arrival;
        if (arrival < best) {
            best = arrival;
            winner = i;
        }
    }
    return relax<T>(window, winner, tau, t);
}

/// Right-hand limit at `rate -> 0` of `Var_y(i) / (tau * rate)`: 0 for `tau < 1`, `E_0 / E_1`
/// for `tau = 1` (the weight of count 1 grows like `rate E_0 / E_1`), and infinite for
/// `tau > 1`, where 0 is returned by convention (see docs/math.md).
template <std::floating_point T, uniform_stream S>
T derivative_at_zero_rate(std::size_t k, T tau, S& stream) {
    if (k == 0 || tau != T(1)) {
        return T(0);
    }
    const T e0 = -std::log(stream.template next<T>());
    const T e1 = -std::log(stream.template next<T>());
    return e0 / e1;
}

}  // namespace poisson::detail

namespace poisson::detail {

/// The straight-through Gumbel outcome for one element: the count, the relaxed sample and
/// the derivative `Var_y(i) / (tau * rate)` of the relaxed sample.
template <std::floating_point T>
struct gumbel_outcome {
    T count;
    T relaxed;
    T derivative;
};

template <std::floating_point T, uniform_stream S>
gumbel_outcome<T> straight_through_outcome(T rate, const noise_context<T>& context, S& stream) {
    if (rate == T(0)) {
        return {T(0), T(0), derivative_at_zero_rate(context.k, context.tau, stream)};
    }
    category_window window;
    const std::span<T> work = context.scratch.first(context.k + 1);
    const auto r = gumbel_race(rate, context.k, context.tau, work, work, stream, window);
    const auto derivative = static_cast<T>(r.variance / (double(context.tau) * double(rate)));
    return {static_cast<T>(r.count), r.relaxed, derivative};
}

}  // namespace poisson::detail
