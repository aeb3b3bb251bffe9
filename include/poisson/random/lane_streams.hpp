#pragma once

/// @file
/// @brief Lane streams: the uniforms of several elements' streams, drawn together.
///
/// A bulk estimator works on `L` elements at once (one per SIMD lane) and asks for their
/// uniforms a range of stream positions at a time:
///
///     lanes.template draw<T>(elements, begin, end, out)
///
/// writes uniform `q` of the stream of element `elements[j]`, for `q` in `[begin, end)`, to
/// `out[(q - begin) * L + j]`. Position `q` is what the `(q + 1)`-th `next<T>()` of that
/// element's stream returns. `philox_lanes` (philox_lanes.hpp) computes them for all lanes at
/// once; the adapters here serve any other provider and a single stream.

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "poisson/random/concepts.hpp"

namespace poisson::detail {

/// @brief One stream feeding every lane: each uniform it yields is written to all `L` lanes.
///
/// This is how a single element runs through a bulk estimator: its lanes are copies of one
/// element. The stream is read in order, once: positions before `begin` are drawn and
/// dropped, so the stream ends at position `end` exactly as a loop of `next()` would.
template <uniform_stream S>
class broadcast_lanes {
public:
    explicit broadcast_lanes(S& stream) noexcept : m_stream(&stream) {}

    template <std::floating_point T, std::size_t L>
    void draw(const std::array<std::uint32_t, L>& /*elements*/, std::size_t begin, std::size_t end,
              T* out) {
        for (; m_position < begin; ++m_position) (void)m_stream->template next<T>();
        for (; m_position < end; ++m_position) {
            const T u = m_stream->template next<T>();
            T* row = out + (m_position - begin) * L;
            for (std::size_t j = 0; j < L; ++j) row[j] = u;
        }
    }

private:
    S* m_stream;
    std::size_t m_position = 0;
};

/// @brief The lane streams of any counter-based provider: each lane opens its element's
/// stream and reads it up to `end`.
template <rng_provider Rng>
class provider_lanes {
public:
    provider_lanes(const Rng& rng, std::uint64_t step, std::uint64_t first_element) noexcept
        : m_rng(&rng), m_step(step), m_first(first_element) {}

    template <std::floating_point T, std::size_t L>
    void draw(const std::array<std::uint32_t, L>& elements, std::size_t begin, std::size_t end,
              T* out) const {
        for (std::size_t j = 0; j < L; ++j) {
            auto stream = m_rng->stream(stream_key{m_step, m_first + elements[j]});
            for (std::size_t q = 0; q < begin; ++q) (void)stream.template next<T>();
            for (std::size_t q = begin; q < end; ++q) {
                out[(q - begin) * L + j] = stream.template next<T>();
            }
        }
    }

private:
    const Rng* m_rng;
    std::uint64_t m_step;
    std::uint64_t m_first;
};

/// The lane streams of `rng` for the elements from `first_element` on, at `step`; providers
/// with a faster way (philox) overload this.
template <rng_provider Rng>
provider_lanes<Rng> make_lane_streams(const Rng& rng, std::uint64_t step,
                                      std::uint64_t first_element) noexcept {
    return provider_lanes<Rng>(rng, step, first_element);
}

}  // namespace poisson::detail
