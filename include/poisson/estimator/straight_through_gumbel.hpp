#pragma once

/// @file
/// @brief Straight-through Gumbel-Softmax estimator (the report's models P_1 and P_2).

#include <concepts>
#include <cstddef>
#include <span>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/gumbel_race.hpp"
#include "poisson/random/lane_streams.hpp"

namespace poisson {

namespace detail {

/// The straight-through Gumbel outcome for one element: the count, the relaxed sample and
/// the derivative `Var_y(i) / (tau * rate)` of the relaxed sample.
template <std::floating_point T>
struct gumbel_outcome {
    T count;
    T relaxed;
    T derivative;
};

/// The race of every element of `rates`, turned into samples by `make(outcome)`.
template <std::floating_point T, class Lanes, class Make>
void straight_through_bulk(const gumbel_plan<T>& plan, std::span<const T> rates, Lanes& streams,
                           std::span<noise_sample<T>> out, Make make) {
    gumbel_workspace<T> work(plan, 0);
    gumbel_group<T> g;
    const auto nonzero = [&](const lane_elements<T>& elements, std::size_t used) {
        g.rate = gather_rates(rates, elements);
        run_race(plan, g, elements, streams, work, 0);
        // Var_y(i) / (tau rate), in double, rounded to T.
        const real_v<T> derivative = narrow<T>(g.variance / (double(plan.tau()) * widen(g.rate)));
        const real_v<T> count = convert<T>(g.count);
        for (std::size_t j = 0; j < used; ++j) {
            out[elements[j]] = make(gumbel_outcome<T>{count[j], g.relaxed[j], derivative[j]});
        }
    };
    const auto zero = [&](const lane_elements<T>& elements, std::size_t used) {
        const real_v<T> derivative = zero_rate_derivatives(plan, elements, streams, work, 1);
        for (std::size_t j = 0; j < used; ++j) {
            out[elements[j]] = make(gumbel_outcome<T>{T(0), T(0), T(derivative[j])});
        }
    };
    for_each_lane_group(rates, plan.k(), nonzero, zero);
}

/// `sample()` of an estimator with a bulk path: the element runs through `sample_bulk` as a
/// group of copies of itself, so that it gets the bits the layer's bulk path gives it.
template <class Estimator, std::floating_point T, uniform_stream S>
noise_sample<T> sample_through_bulk(const Estimator& estimator, T rate,
                                    const noise_context<T>& context, S& stream) {
    const auto plan = gumbel_plan<T>::for_rate(context.k, context.tau, rate);
    broadcast_lanes<S> streams(stream);
    noise_sample<T> s;
    estimator.sample_bulk(plan, std::span<const T>(&rate, 1), streams,
                          std::span<noise_sample<T>>(&s, 1));
    return s;
}

/// The Gumbel-Softmax estimators that share the race and its closed-form derivative and differ
/// only in what forward propagates: the count (`Relaxed = false`) or the relaxed sample.
template <bool Relaxed>
class gumbel_softmax_estimator {
public:
    static constexpr bool truncates = true;
    static constexpr bool unit_derivative = false;

    template <std::floating_point T, uniform_stream S>
    noise_sample<T> sample(T rate, const noise_context<T>& context, S& stream) const {
        return sample_through_bulk(*this, rate, context, stream);
    }

    template <std::floating_point T>
    gumbel_plan<T> bulk_plan(const noise_context<T>& context) const {
        return gumbel_plan<T>::for_pass(context.k, context.tau);
    }

    template <std::floating_point T, class Lanes>
    void sample_bulk(const gumbel_plan<T>& plan, std::span<const T> rates, Lanes& streams,
                     std::span<noise_sample<T>> out) const {
        straight_through_bulk(plan, rates, streams, out, [](const auto& o) {
            return noise_sample<T>{Relaxed ? o.relaxed : o.count, o.derivative, o.count,
                                   o.relaxed};
        });
    }
};

}  // namespace detail

/// @brief Forward: the Gumbel-max count over `0..k`, an exact draw from Poisson truncated to
/// `0..k` and renormalised. Backward: the derivative of the relaxed sample
/// `x~ = sum_i i y_i`, `y = softmax((log p + g) / tau)`, with the same Gumbels `g`:
///
///     d x~ / d rate = Var_y(i) / (tau * rate)
///
/// (`d log p_i / d rate = i / rate - 1`, and softmax removes the constant). Jang, Gu and Poole,
/// "Categorical reparameterization with Gumbel-Softmax" (2017); Maddison, Mnih and Teh, "The
/// Concrete distribution" (2017); Bengio, Leonard and Courville (2013) for straight-through.
class straight_through_gumbel : public detail::gumbel_softmax_estimator<false> {};

}  // namespace poisson
