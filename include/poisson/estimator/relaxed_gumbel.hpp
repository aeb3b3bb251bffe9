#pragma once

/// @file
/// @brief Relaxed (soft) Concrete estimator.

#include <concepts>
#include <span>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"

namespace poisson {

/// @brief Forward: the relaxed sample `x~ = sum_i i y_i` itself, a real number in `[0, k]`,
/// `y = softmax((log p + g) / tau)` over the counts `0..k`. Backward: its exact derivative
/// with the Gumbels held fixed, `Var_y(i) / (tau * rate)`.
///
/// Unbiased for the relaxed objective, biased for the discrete one; as `tau -> 0` it tends to
/// the straight-through estimator's forward. Maddison, Mnih and Teh, "The Concrete
/// distribution: a continuous relaxation of discrete random variables" (ICLR 2017).
class relaxed_gumbel {
public:
    /// @brief Samples from Poisson truncated to `0..k`: the layer chooses `k` for it.
    static constexpr bool truncates = true;
    /// @brief The derivative depends on the sample, so the layer stores it.
    static constexpr bool unit_derivative = false;

    /// @brief One element: the relaxed sample `sum_i i y_i` and `Var_y(i) / (tau * rate)`.
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
        detail::straight_through_bulk(plan, rates, streams, out, [](const auto& o) {
            return noise_sample<T>{o.relaxed, o.derivative, o.count, o.relaxed};
        });
    }
};

}  // namespace poisson
