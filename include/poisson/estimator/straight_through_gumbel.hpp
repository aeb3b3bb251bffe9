#pragma once

/// @file
/// @brief Straight-through Gumbel-Softmax estimator (the report's models P_1 and P_2).

#include <concepts>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/gumbel_race.hpp"

namespace poisson {

/// @brief Forward: the Gumbel-max count over `0..k`, an exact draw from Poisson truncated to
/// `0..k` and renormalised. Backward: the derivative of the relaxed sample
/// `x~ = sum_i i y_i`, `y = softmax((log p + g) / tau)`, with the same Gumbels `g`:
///
///     d x~ / d rate = Var_y(i) / (tau * rate)
///
/// (`d log p_i / d rate = i / rate - 1`, and softmax removes the constant). Jang, Gu and Poole,
/// "Categorical reparameterization with Gumbel-Softmax" (2017); Maddison, Mnih and Teh, "The
/// Concrete distribution" (2017); Bengio, Leonard and Courville (2013) for straight-through.
class straight_through_gumbel {
public:
    static constexpr bool truncates = true;
    static constexpr bool unit_derivative = false;

    template <std::floating_point T, uniform_stream S>
    noise_sample<T> sample(T rate, const noise_context<T>& context, S& stream) const {
        const auto o = detail::straight_through_outcome(rate, context, stream);
        return {o.count, o.derivative, o.count, o.relaxed};
    }
};

}  // namespace poisson
