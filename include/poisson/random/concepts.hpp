#pragma once

/// @file
/// @brief The RNG-provider policy axis: where a layer's uniforms come from.

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace poisson {

/// @brief Identifies the uniforms of one tensor element at one training step.
struct stream_key {
    std::uint64_t step = 0;     ///< training step of the layer that draws
    std::uint64_t element = 0;  ///< flat, row-major index of the element
};

/// @brief A source of uniforms on the open interval (0, 1), drawn one at a time.
template <class S>
concept uniform_stream = requires(S& s) {
    { s.template next<float>() } -> std::same_as<float>;
    { s.template next<double>() } -> std::same_as<double>;
};

/// @brief The RNG-provider policy: hands out a uniform stream for each (step, element).
///
/// A *counter-based* provider (`is_counter_based == true`) returns the same stream for the
/// same key whatever else has been drawn, so elements may be processed in any order and on
/// any number of threads with bit-identical results. Any other provider is a single
/// sequential stream: the key is ignored and elements must be visited in order, on one thread.
///
/// `state()` and `restore()` serialise the provider's position for checkpoints.
template <class R>
concept rng_provider = requires(R& r, const R& cr, const stream_key& key, std::string_view s) {
    { r.stream(key) } -> uniform_stream;
    { R::is_counter_based } -> std::convertible_to<bool>;
    { cr.state() } -> std::convertible_to<std::string>;
    r.restore(s);
};

}  // namespace poisson
