#pragma once

/// @file
/// @brief Identity straight-through estimator (the report's model P_STE).

#include <concepts>

#include "poisson/estimator/concepts.hpp"
#include "poisson/random/poisson_sampler.hpp"

namespace poisson {

/// @brief Forward: an exact, untruncated Poisson sample (inversion below rate 10, Hörmann's
/// PTRS above). Backward: the sampler is treated as the identity, `d x / d rate = 1`, which is
/// the derivative of its expectation `E[x] = rate`. Bengio, Leonard and Courville, "Estimating
/// or propagating gradients through stochastic neurons for conditional computation" (2013).
class straight_through_identity {
public:
    /// @brief Samples the untruncated Poisson: no `k` is needed.
    static constexpr bool truncates = false;
    /// @brief The derivative is always 1, so the layer stores none.
    static constexpr bool unit_derivative = true;

    /// @brief One element: an exact Poisson count and the derivative 1.
    template <std::floating_point T, uniform_stream S>
    noise_sample<T> sample(T rate, const noise_context<T>& /*context*/, S& stream) const {
        const T count = sample_poisson(rate, stream);
        return {count, T(1), count, count};
    }
};

}  // namespace poisson
