#pragma once

/// @file
/// @brief The gradient-estimator policy axis: how one element is sampled and differentiated.

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
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

/// Minimal lane streams (see random/lane_streams.hpp): all a bulk estimator may ask of them.
struct lane_streams_archetype {
    template <class T, std::size_t L>
    void draw(const std::array<std::uint32_t, L>& /*elements*/, std::size_t /*begin*/,
              std::size_t /*end*/, T* /*out*/) {}
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

/// @brief A gradient estimator that can also sample many elements in one call (optional).
///
/// `bulk_plan(context)` makes whatever the estimator reads in every call of a pass (tables);
/// `sample_bulk(plan, rates, streams, out)` writes to `out[i]` the sample of `rates[i]`, whose
/// uniforms `streams` hands out (random/lane_streams.hpp), and must equal what `sample()` gives
/// on that element's stream, bit for bit. The layer uses it when the provider is
/// counter-based; an estimator with `sample()` alone is run element by element.
template <class E, class T>
concept bulk_gradient_estimator =
    gradient_estimator<E> &&
    requires(const E& estimator, const noise_context<T>& context,
             detail::lane_streams_archetype& streams, std::span<const T> rates,
             std::span<noise_sample<T>> out) {
        estimator.sample_bulk(estimator.bulk_plan(context), rates, streams, out);
    };

}  // namespace poisson
