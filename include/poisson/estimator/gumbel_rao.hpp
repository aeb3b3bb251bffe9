#pragma once

/// @file
/// @brief Gumbel-Rao estimator: straight-through Gumbel with a Rao-Blackwellised backward.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/gumbel_race.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // functions on lane vectors: see simd_math.hpp
#endif

namespace poisson {

namespace detail {

/// `Var_y(i)` summed over `draws` Gumbel vectors drawn given that each lane's winner `c` wins:
/// `T_c ~ Exp(sum_i p_i)` and, by the memorylessness of the exponential, `T_i = T_c + Exp(p_i)`
/// for every other window category. Draw `d` of a lane reads its stream from position
/// `hi + 1 + d (hi - lo + 1)` on: first `T_c`, then one uniform per other window category, in
/// increasing order. Lanes read different positions, so each gathers from the uniform rows.
template <std::floating_point T>
wide_v<T> conditional_variances(const gumbel_plan<T>& plan, const gumbel_group<T>& g,
                                std::size_t draws, gumbel_workspace<T>& work) {
    using I = same_size_int<T>;
    using index = index_v<T>;
    using real = real_v<T>;
    constexpr std::size_t L = group_size<T>;
    const T* u = work.uniforms();
    const T* p = work.pmf();
    const auto lane = [] {
        index out;
        for (std::size_t j = 0; j < L; ++j) out[j] = static_cast<I>(j);
        return out;
    }();
    wide_v<T> mass;  // sum of p_i over the window, in increasing i
    for (std::size_t i = g.window_lo; i <= g.window_hi; ++i) {
        mass += widen(load<real>(p + (i - g.first) * L));
    }
    wide_v<T> total;
    for (std::size_t d = 0; d < draws; ++d) {
        const index start = g.hi + 1 + static_cast<I>(d) * (g.hi - g.lo + 1);
        index row = start - static_cast<I>(g.window_lo);  // the lane's next uniform
        const real tc = narrow<T>(widen(exponential(gather(u, row * I(L) + lane))) / mass);
        row += 1;
        weight_moments<T> moments(plan.tau(), g.count);
        for (std::size_t i = g.window_lo; i <= g.window_hi; ++i) {
            const auto ii = static_cast<I>(i);
            const index in = (ii >= g.lo) & (ii <= g.hi);
            const index winner = ii == g.count;
            // T_c / T_i with T_i = T_c + E / p: (T_c p) / (T_c p + E), 0 where p = 0.
            const real tc_p = tc * load<real>(p + (i - g.first) * L);
            const real ratio = tc_p / (tc_p + exponential(gather(u, row * I(L) + lane)));
            moments.add(i, select(winner, splat<real>(T(1)), ratio));
            row -= in & ~winner;  // masks are -1 where true
        }
        total += moments.variance();
    }
    return total;
}

}  // namespace detail

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
    /// @brief Samples from Poisson truncated to `0..k`: the layer chooses `k` for it.
    static constexpr bool truncates = true;
    /// @brief The derivative depends on the sample, so the layer stores it.
    static constexpr bool unit_derivative = false;
    /// @brief The number `M` of conditional Gumbel draws averaged in backward.
    static constexpr std::size_t draws = M;

    /// @brief One element: the Gumbel-max count (the same as `straight_through_gumbel`'s for
    /// the same stream) and the derivative averaged over `M` conditional draws.
    template <std::floating_point T, uniform_stream S>
    noise_sample<T> sample(T rate, const noise_context<T>& context, S& stream) const {
        return detail::sample_through_bulk(*this, rate, context, stream);
    }

    /// @brief The tables `sample_bulk` reads, made once per pass.
    template <std::floating_point T>
    detail::gumbel_plan<T> bulk_plan(const noise_context<T>& context) const {
        return detail::gumbel_plan<T>::for_pass(context.k, context.tau);
    }

    /// @brief Samples every element of `rates` into `out` (the same values as `sample()` on
    /// each element's stream), 16 elements at a time; `streams` hands out their uniforms.
    template <std::floating_point T, class Lanes>
    void sample_bulk(const detail::gumbel_plan<T>& plan, std::span<const T> rates, Lanes& streams,
                     std::span<noise_sample<T>> out) const {
        detail::gumbel_workspace<T> work(plan, M);
        detail::gumbel_group<T> g;
        const auto nonzero = [&](const detail::lane_elements<T>& elements, std::size_t used) {
            g.rate = detail::gather_rates(rates, elements);
            detail::run_race(plan, g, elements, streams, work, M);
            const auto variance = detail::conditional_variances(plan, g, M, work);
            // The mean over the draws of Var_y(i) / (tau rate), in double, rounded to T.
            const detail::real_v<T> derivative = detail::narrow<T>(
                variance / (double(M) * double(plan.tau()) * detail::widen(g.rate)));
            const detail::real_v<T> count = detail::convert<T>(g.count);
            for (std::size_t j = 0; j < used; ++j) {
                out[elements[j]] = noise_sample<T>{count[j], derivative[j], count[j], g.relaxed[j]};
            }
        };
        const auto zero = [&](const detail::lane_elements<T>& elements, std::size_t used) {
            const auto derivative = detail::zero_rate_derivatives(plan, elements, streams, work, M);
            for (std::size_t j = 0; j < used; ++j) {
                out[elements[j]] = noise_sample<T>{T(0), T(derivative[j]), T(0), T(0)};
            }
        };
        detail::for_each_lane_group(rates, plan.k(), nonzero, zero);
    }
};

}  // namespace poisson

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
