#pragma once

/// @file
/// @brief Gumbel-Rao estimator: straight-through Gumbel with a Rao-Blackwellised backward.

#include <concepts>
#include <cstddef>
#include <span>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/gumbel_race.hpp"

namespace poisson {

/// @brief Forward: the same Gumbel-max count as `straight_through_gumbel`, from the same
/// uniforms. Backward: the straight-through derivative averaged over `M` fresh Gumbel vectors
/// drawn *given* that count, which keeps its expectation and lowers its variance.
///
/// Paulus, Maddison and Krause, "Rao-Blackwellizing the straight-through Gumbel-Softmax
/// gradient estimator" (ICLR 2021). The conditional draw uses the exponential-race form of
/// Gumbel-max: with `T_i = E_i / p_i` and `c` the winner, `T_c ~ Exp(sum_i p_i)` and, by the
/// memorylessness of the exponential, `T_i = T_c + Exp(p_i)` for every other `i`.
/// With `M = 1` the (count, derivative) pair has the distribution of `straight_through_gumbel`'s.
template <std::size_t M>
class gumbel_rao {
    static_assert(M >= 1, "gumbel_rao<M>: M, the number of conditional Gumbel draws, must be >= 1");

public:
    static constexpr bool truncates = true;
    static constexpr bool unit_derivative = false;
    static constexpr std::size_t draws = M;

    template <std::floating_point T, uniform_stream S>
    noise_sample<T> sample(T rate, const noise_context<T>& context, S& stream) const {
        if (rate == T(0)) {
            return {T(0), mean_derivative_at_zero(context, stream), T(0), T(0)};
        }
        const std::size_t n = context.k + 1;
        const std::span<T> p = context.scratch.first(n);
        const std::span<T> t = context.scratch.subspan(n, n);
        detail::category_window window;
        const auto race = detail::gumbel_race(rate, context.k, context.tau, p, t, stream, window);

        double mass = 0.0;
        for (std::size_t i = window.lo; i <= window.hi; ++i) mass += p[i];
        double variance = 0.0;
        for (std::size_t m = 0; m < M; ++m) {
            variance += conditional_variance(race.count, mass, window, context.tau, p, t, stream);
        }
        const auto count = static_cast<T>(race.count);
        const auto derivative = static_cast<T>(variance / (M * double(context.tau) * rate));
        return {count, derivative, count, race.relaxed};
    }

private:
    /// `Var_y(i)` for one Gumbel vector drawn given that category `c` wins.
    template <class T, class S>
    static double conditional_variance(std::size_t c, double mass, detail::category_window w,
                                       T tau, std::span<T> p, std::span<T> t, S& stream) {
        const T first = static_cast<T>(-std::log(stream.template next<T>()) / mass);
        for (std::size_t i = w.lo; i <= w.hi; ++i) {
            t[i] = i == c ? first : first - std::log(stream.template next<T>()) / p[i];
        }
        return detail::relax<T>(w, c, tau, t).variance;
    }

    template <class T, class S>
    static T mean_derivative_at_zero(const noise_context<T>& context, S& stream) {
        T sum = 0;
        for (std::size_t m = 0; m < M; ++m) {
            sum += detail::derivative_at_zero_rate(context.k, context.tau, stream);
        }
        return sum / T(M);
    }
};

}  // namespace poisson
