#pragma once

/// @file
/// @brief The gradient-estimator policy axis: how one element is sampled and differentiated.

#include <concepts>
#include <cstddef>
#include <span>

namespace poisson {

/// @brief What an estimator needs besides the rate, fixed for one forward pass.
template <std::floating_point T>
struct noise_context {
    std::size_t k = 0;     ///< largest count kept, categories `0..k` (truncating estimators)
    T tau = 1;             ///< Gumbel-Softmax temperature, `> 0`
    std::span<T> scratch;  ///< workspace of at least `k + 1` values, private to the caller's thread
};

/// @brief One element's sample and the derivative backward will use.
template <std::floating_point T>
struct noise_sample {
    T value;       ///< what the forward pass propagates
    T derivative;  ///< `d value / d rate` as the estimator defines it; finite for every rate
    T count;       ///< the integer count drawn (diagnostics)
    T relaxed;     ///< the relaxed sample `sum_i i y_i`; equals `count` for exact samplers
};

namespace detail {

/// Minimal uniform stream: the only operations an estimator may use on its stream.
struct uniform_stream_archetype {
    template <class T>
    T next() {
        return T(0.5);
    }
};

}  // namespace detail

/// @brief A gradient estimator turns a rate into a sample and a derivative.
///
/// `sample(rate, context, stream)` is called once per element, possibly from several threads
/// at once (it must be `const` and thread-safe); `rate` is finite and `>= 0`; every uniform
/// comes from `stream`. `truncates` says whether the layer must choose a `k` for it;
/// `unit_derivative` lets the layer skip storing derivatives that are always 1.
template <class E>
concept gradient_estimator = requires(const E& estimator, detail::uniform_stream_archetype& s,
                                      const noise_context<float>& cf,
                                      const noise_context<double>& cd) {
    { E::truncates } -> std::convertible_to<bool>;
    { E::unit_derivative } -> std::convertible_to<bool>;
    { estimator.sample(float{}, cf, s) } -> std::same_as<noise_sample<float>>;
    { estimator.sample(double{}, cd, s) } -> std::same_as<noise_sample<double>>;
};

}  // namespace poisson
