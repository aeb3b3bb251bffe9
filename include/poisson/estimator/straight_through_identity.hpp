#pragma once

/// @file
/// @brief Identity straight-through estimator (the report's model P_STE).

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <span>
#include <vector>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/poisson_lanes.hpp"
#include "poisson/random/poisson_sampler.hpp"

namespace poisson {

namespace detail {

/// The identity estimator's bulk path reads no tables.
struct identity_plan {};

}  // namespace detail

/// @brief Forward: an exact, untruncated Poisson sample (inversion below rate 10, Hörmann's
/// PTRS above). Backward: the sampler is treated as the identity, `d x / d rate = 1`, which is
/// the derivative of its expectation `E[x] = rate`. Bengio, Leonard and Courville, "Estimating
/// or propagating gradients through stochastic neurons for conditional computation" (2013).
///
/// `sample()` is `sample_poisson`; the bulk path (estimator/poisson_lanes.hpp) computes the
/// same draws a register of elements at a time, with the same bits.
class straight_through_identity {
public:
    /// @brief Samples the untruncated Poisson: no `k` is needed.
    static constexpr bool truncates = false;
    /// @brief The derivative is always 1, so the layer stores none.
    static constexpr bool unit_derivative = true;

    /// @brief One element: an exact Poisson count and the derivative 1.
    template <std::floating_point T, uniform_stream S>
    noise_sample<T> sample(T rate, const noise_context<T>& /*context*/, S& stream) const {
        return unit_sample(sample_poisson(rate, stream));
    }

    /// @brief The bulk path needs nothing made per pass.
    template <std::floating_point T>
    detail::identity_plan bulk_plan(const noise_context<T>& /*context*/) const {
        return {};
    }

    /// @brief `out[i]` is `sample()` of `rates[i]` on its stream from `streams`, bit for bit.
    /// @pre every rate is finite and `>= 0` (the layer checks them).
    template <std::floating_point T, class Lanes>
    void sample_bulk(detail::identity_plan /*plan*/, std::span<const T> rates, Lanes& streams,
                     std::span<noise_sample<T>> out) const {
        // Rate 0 gives 0 and draws nothing; the groups of nonzero rates overwrite the rest.
        std::fill(out.begin(), out.end(), unit_sample(T(0)));
        std::vector<double> uniforms;  // the rows of the group at hand, reused
        detail::for_each_nonzero_group(
            rates, [&](const detail::poisson_elements& elements, std::size_t used) {
                detail::poisson_real_v rate{};
                for (std::size_t j = 0; j < elements.size(); ++j)
                    rate[j] = double(rates[elements[j]]);
                const detail::poisson_real_v count =
                    detail::poisson_group(rate, elements, streams, uniforms);
                for (std::size_t j = 0; j < used; ++j) out[elements[j]] = unit_sample(T(count[j]));
            });
    }

private:
    template <std::floating_point T>
    static noise_sample<T> unit_sample(T count) noexcept {
        return {count, T(1), count, count};
    }
};

}  // namespace poisson
