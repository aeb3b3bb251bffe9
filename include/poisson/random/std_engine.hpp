#pragma once

/// @file
/// @brief RNG provider that adapts any standard uniform random bit generator.

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include "poisson/errors.hpp"
#include "poisson/random/concepts.hpp"
#include "poisson/random/uniform.hpp"

namespace poisson {

namespace detail {

/// Draws exactly `Bits` random bits from a URBG of any range. Engines whose range is not a
/// power of two (e.g. `std::minstd_rand`) are reduced by rejection to the largest
/// power-of-two sub-range, so the result is specified by the engine alone and is the same
/// with every standard library.
template <unsigned Bits, std::uniform_random_bit_generator G>
std::uint64_t draw_bits(G& engine) {
    using result = typename G::result_type;
    constexpr std::uint64_t span = static_cast<std::uint64_t>(G::max() - G::min());
    constexpr bool full = span == std::numeric_limits<std::uint64_t>::max();
    constexpr unsigned bits_per_call =
        full ? 64u : static_cast<unsigned>(std::bit_width(span + (full ? 0u : 1u))) - 1u;
    static_assert(bits_per_call > 0, "the engine must produce at least one bit per call");
    constexpr std::uint64_t keep =
        full ? span : (std::uint64_t{1} << (bits_per_call % 64)) - 1u;

    std::uint64_t value = 0;
    for (unsigned have = 0; have < Bits; have += bits_per_call) {
        std::uint64_t r;
        do {
            r = static_cast<std::uint64_t>(static_cast<result>(engine() - G::min()));
        } while (r > keep);
        if constexpr (bits_per_call >= 64) {
            value = r;
        } else {
            value = (value << bits_per_call) | r;
        }
    }
    if constexpr (Bits >= 64) {
        return value;
    } else {
        return value & ((std::uint64_t{1} << Bits) - 1u);
    }
}

}  // namespace detail

/// @brief Uniforms from one standard engine, drawn in sequence (not counter-based).
///
/// A view of the engine: it draws from, and advances, the engine it was made from.
template <std::uniform_random_bit_generator Engine>
class engine_stream {
public:
    /// @brief A stream drawing from `engine`, which must outlive it.
    explicit engine_stream(Engine& engine) noexcept : m_engine(&engine) {}

    /// @brief The next uniform on the open interval (0, 1): `open_unit_float` of 32 bits of
    /// the engine for `float`, `open_unit_double` of 64 bits for `double`. `T` is float or
    /// double.
    template <class T>
    T next() {
        if constexpr (std::same_as<T, float>) {
            return open_unit_float(static_cast<std::uint32_t>(detail::draw_bits<32>(*m_engine)));
        } else {
            static_assert(std::same_as<T, double>, "uniforms are float or double");
            return open_unit_double(detail::draw_bits<64>(*m_engine));
        }
    }

private:
    Engine* m_engine;
};

/// @brief RNG provider over any standard uniform random bit generator.
///
/// Sequential: the element order of the calling layer fixes the results, so layers using it
/// run on one thread. Its state is the engine's own text serialisation. Bits are taken from
/// the engine by `detail::draw_bits`, which depends on the engine's output alone, so a seed
/// gives the same uniforms with every standard library.
template <std::uniform_random_bit_generator Engine = std::mt19937_64>
class std_engine {
public:
    /// @brief The adapted engine type.
    using engine_type = Engine;
    /// @brief Not counter-based: streams continue one sequence, whatever their key.
    static constexpr bool is_counter_based = false;

    /// @brief A provider over `Engine(seed)`.
    explicit std_engine(typename Engine::result_type seed = Engine::default_seed)
        : m_engine(seed) {}
    /// @brief A provider over a copy of `engine`, in its current state.
    explicit std_engine(const Engine& engine) : m_engine(engine) {}

    /// The key is ignored: every call continues the one sequence.
    engine_stream<Engine> stream(const stream_key& /*key*/) noexcept {
        return engine_stream<Engine>(m_engine);
    }

    /// @brief The engine's state as written by its `operator<<`.
    std::string state() const {
        std::ostringstream out;
        out << m_engine;
        return out.str();
    }

    /// @brief Sets the engine to the state `state()` wrote.
    /// @throws invalid_argument if the text cannot be read as an `Engine` state (the provider
    /// is then unchanged).
    void restore(std::string_view text) {
        std::istringstream in{std::string(text)};
        Engine engine;
        in >> engine;
        if (in.fail()) {
            throw invalid_argument("std_engine::restore: the text is not a saved engine state");
        }
        m_engine = engine;
    }

    /// @brief The adapted engine, e.g. to reseed it.
    Engine& engine() noexcept { return m_engine; }

private:
    Engine m_engine;
};

}  // namespace poisson
