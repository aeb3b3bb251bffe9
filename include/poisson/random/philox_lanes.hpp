#pragma once

/// @file
/// @brief Philox4x32-10 on many counters at once, and the uniforms of many elements' streams.
///
/// `philox_stream` runs one element's stream a block at a time. Here the same block number of
/// `L` different elements is computed side by side, one element per lane of SIMD vectors
/// (math/simd_math.hpp); the words are exactly those of `philox4x32` (tested). The words are
/// held in 64-bit lanes, so that each 32x32 -> 64-bit product is one even-lane multiply
/// (`pmuludq`), which GCC 12 does not find by itself: it would use a full 64-bit multiply.

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "poisson/math/simd_math.hpp"
#include "poisson/random/philox.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // functions on vectors: see simd_math.hpp
#endif

namespace poisson {

namespace detail {

/// One register of 64-bit lanes, each holding a 32-bit Philox word.
using philox_word_v = vec<std::uint64_t, native_lanes<std::uint64_t>>;

/// The 64-bit products of the low 32 bits of each lane with `m`.
inline philox_word_v multiply_low_words(philox_word_v x, std::uint32_t m) noexcept {
    [[maybe_unused]] const auto factor = splat<philox_word_v>(m);
#if defined(__AVX512F__)
    // The zero-masked form: GCC 12's _mm512_mul_epu32 warns of an uninitialised variable of
    // its own (-Wmaybe-uninitialized).
    return std::bit_cast<philox_word_v>(_mm512_maskz_mul_epu32(
        __mmask8(0xff), std::bit_cast<__m512i>(x), std::bit_cast<__m512i>(factor)));
#elif defined(__AVX2__)
    return std::bit_cast<philox_word_v>(
        _mm256_mul_epu32(std::bit_cast<__m256i>(x), std::bit_cast<__m256i>(factor)));
#elif defined(__SSE2__)
    return std::bit_cast<philox_word_v>(
        _mm_mul_epu32(std::bit_cast<__m128i>(x), std::bit_cast<__m128i>(factor)));
#else
    return (x & 0xffffffffu) * std::uint64_t{m};
#endif
}

}  // namespace detail

/// @brief Philox4x32 counters (or outputs) of `L` lanes: word `w` of lane `j` is
/// `x[w][j / R][j % R]`, `R` the lanes of one register.
template <std::size_t L>
struct philox_lane_block {
    /// @brief Lanes held by one SIMD register of 64-bit words.
    static constexpr std::size_t per_register = detail::native_lanes<std::uint64_t>;
    /// @brief Registers per Philox word.
    static constexpr std::size_t registers = L / per_register;
    /// @brief The four Philox words of every lane, each lane's word in a 64-bit slot.
    std::array<std::array<detail::philox_word_v, registers>, 4> x;
};

/// @brief Philox4x32-10 of every lane: lane `j` of the result is
/// `philox4x32({x0[j], x1[j], x2[j], x3[j]}, key)` (Salmon et al., SC 2011).
template <std::size_t L>
void philox4x32_lanes(philox_lane_block<L>& block, philox_key key) noexcept {
    // Round multipliers and Weyl increments of Philox4x32 (Salmon et al. 2011, section 3.3).
    constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
    constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
    constexpr std::uint64_t low = 0xffffffffu;
    auto& [x0, x1, x2, x3] = block.x;
    std::uint32_t k0 = key[0], k1 = key[1];
    // Only the low half of each lane is a word: the multiplies read only it, so the high
    // halves may fill with anything during the rounds and are cleared once at the end.
    for (int round = 0; round < 10; ++round) {
        for (std::size_t r = 0; r < philox_lane_block<L>::registers; ++r) {
            const auto p0 = detail::multiply_low_words(x0[r], m0);
            const auto p1 = detail::multiply_low_words(x2[r], m1);
            x0[r] = (p1 >> 32) ^ x1[r] ^ std::uint64_t{k0};
            x1[r] = p1;
            x2[r] = (p0 >> 32) ^ x3[r] ^ std::uint64_t{k1};
            x3[r] = p0;
        }
        k0 += w0;
        k1 += w1;
    }
    for (auto& word : block.x) {
        for (auto& r : word) r &= low;
    }
}

/// @brief The uniforms of many elements' `philox_stream`s at one step of one layer.
///
/// `draw<T>(elements, begin, end, out)` writes uniform `q` of the stream of element
/// `first_element + elements[j]`, for every `q` in `[begin, end)`, to
/// `out[(q - begin) * L + j]`: the values `philox_stream::next<T>()` returns when called
/// `q + 1` times on a fresh stream. The blocks of all lanes are computed together.
class philox_lanes {
public:
    /// @pre `first_element` plus every offset passed to `draw` is below 2^32.
    philox_lanes(const philox& rng, std::uint32_t step, std::uint64_t first_element) noexcept
        : m_key{static_cast<std::uint32_t>(rng.seed()),
                static_cast<std::uint32_t>(rng.seed() >> 32)}
        , m_first(first_element)
        , m_step(step)
        , m_stream(rng.stream_id()) {}

    /// @brief Uniforms `[begin, end)` of the streams of elements `first_element +
    /// elements[j]`, lane-interleaved into `out` as the class comment says.
    template <std::floating_point T, std::size_t L>
    void draw(const std::array<std::uint32_t, L>& elements, std::size_t begin, std::size_t end,
              T* out) const noexcept {
        // A block holds four floats or two doubles of the stream.
        constexpr std::size_t per_block = std::same_as<T, float> ? 4 : 2;
        constexpr std::size_t R = philox_lane_block<L>::per_register;
        static_assert(L % R == 0, "a lane group fills whole registers");
        // Counter word 1, the element, of each lane.
        std::array<std::uint64_t, L> words;
        for (std::size_t j = 0; j < L; ++j) words[j] = std::uint32_t(m_first + elements[j]);
        std::array<detail::philox_word_v, L / R> element;
        std::memcpy(element.data(), words.data(), sizeof words);
        std::size_t b = begin / per_block;
        const std::size_t end_block = (end + per_block - 1) / per_block;
        // Two blocks at a time where possible: one block is a chain of ten dependent rounds,
        // whose latency two independent chains hide.
        for (; b + 2 <= end_block; b += 2) draw_blocks<T, L, 2>(element, b, begin, end, out);
        if (b < end_block) draw_blocks<T, L, 1>(element, b, begin, end, out);
    }

private:
    // Blocks b .. b + B - 1 of every lane, lane j of block b + t in lane t L + j.
    template <std::floating_point T, std::size_t L, std::size_t B, std::size_t E>
    void draw_blocks(const std::array<detail::philox_word_v, E>& element, std::size_t b,
                     std::size_t begin, std::size_t end, T* out) const noexcept {
        using block_type = philox_lane_block<B * L>;
        constexpr std::size_t R = block_type::per_register;
        constexpr std::size_t per_block = std::same_as<T, float> ? 4 : 2;
        block_type block;
        for (std::size_t r = 0; r < block_type::registers; ++r) {
            const auto number = static_cast<std::uint32_t>(b + r * R / L);
            block.x[0][r] = detail::splat<detail::philox_word_v>(number);
            block.x[1][r] = element[r % E];
            block.x[2][r] = detail::splat<detail::philox_word_v>(m_step);
            block.x[3][r] = detail::splat<detail::philox_word_v>(m_stream);
        }
        philox4x32_lanes(block, m_key);
        for (std::size_t t = 0; t < B; ++t) {
            for (std::size_t h = 0; h < per_block; ++h) {
                const std::size_t q = (b + t) * per_block + h;
                if (q >= begin && q < end) emit<L>(block, t * (L / R), h, out + (q - begin) * L);
            }
        }
    }

    // Uniform h (word h for floats, words 2h and 2h + 1 for doubles) of the L lanes held in
    // registers first.. of the block, by the arithmetic of open_unit_float / open_unit_double.
    template <std::size_t L, std::size_t N, std::floating_point T>
    static void emit(const philox_lane_block<N>& block, std::size_t first, std::size_t h,
                     T* row) noexcept {
        using namespace detail;
        if constexpr (std::same_as<T, float>) {
            // (2m + 1) 2^-24 with m the top 23 bits, 2m + 1 being (w >> 8) | 1: exact in float.
            // Two registers of 64-bit lanes make one of floats.
            static_assert(L == 2 * philox_lane_block<N>::per_register);
            const auto odd = [&](std::size_t r) {
                return convert<std::int32_t>((block.x[h][first + r] >> 8) | 1u);
            };
            store(row, convert<float>(concat(odd(0), odd(1))) * 0x1p-24f);
        } else {
            // (2m + 1) 2^-53 with m the top 52 bits of (second << 32 | first); m becomes a
            // double through the bits of 2^52 + m, exactly.
            static_assert(L == philox_lane_block<N>::per_register);
            const auto bits = (block.x[2 * h + 1][first] << 32) | block.x[2 * h][first];
            const auto m = std::bit_cast<vec<double, L>>((bits >> 12) | 0x4330000000000000u);
            store(row, ((m - 0x1p52) * 2.0 + 1.0) * 0x1p-53);
        }
    }

    philox_key m_key;
    std::uint64_t m_first;
    std::uint32_t m_step;
    std::uint32_t m_stream;
};

namespace detail {

/// The lane streams of the philox provider (see lane_streams.hpp for other providers).
inline philox_lanes make_lane_streams(const philox& rng, std::uint64_t step,
                                      std::uint64_t first_element) noexcept {
    return philox_lanes(rng, static_cast<std::uint32_t>(step), first_element);
}

}  // namespace detail

}  // namespace poisson

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
