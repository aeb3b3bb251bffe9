#pragma once

/// @file
/// @brief Philox4x32-10, a counter-based random bit generator, and the RNG provider over it.
///
/// Reference: J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers:
/// as easy as 1, 2, 3", Proc. SC 2011. The output is bit-identical to Random123's
/// `r123::Philox4x32` (10 rounds) for the same counter and key.

#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "poisson/errors.hpp"
#include "poisson/random/concepts.hpp"
#include "poisson/random/uniform.hpp"

namespace poisson {

/// @brief A Philox4x32 counter: four 32-bit words.
using philox_counter = std::array<std::uint32_t, 4>;

/// @brief A Philox4x32 key: two 32-bit words.
using philox_key = std::array<std::uint32_t, 2>;

namespace detail {

// Round multipliers and Weyl key increments of Philox4x32 (Salmon et al. 2011, section 3.3).
inline constexpr std::uint32_t philox_m0 = 0xD2511F53u;
inline constexpr std::uint32_t philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u;  // golden ratio
inline constexpr std::uint32_t philox_w1 = 0xBB67AE85u;  // sqrt(3) - 1
inline constexpr int philox_rounds = 10;

/// One Philox round on the four words (x0, x1, x2, x3) with round key (k0, k1): two 32x32-bit
/// multiplies whose high halves are mixed with the other two words and the key.
constexpr void philox_round(std::uint32_t& x0, std::uint32_t& x1, std::uint32_t& x2,
                            std::uint32_t& x3, std::uint32_t k0, std::uint32_t k1) noexcept {
    const std::uint64_t p0 = std::uint64_t{philox_m0} * x0;
    const std::uint64_t p1 = std::uint64_t{philox_m1} * x2;
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32);
    x0 = hi1 ^ x1 ^ k0;
    x1 = static_cast<std::uint32_t>(p1);
    x2 = hi0 ^ x3 ^ k1;
    x3 = static_cast<std::uint32_t>(p0);
}

// Whether fill() computes many blocks side by side. Measured with GCC 12 against one block at
// a time: 1.3x (-O3) to 3x (-O2) faster with AVX-512, but up to 4x slower at -O3 when
// compiled for SSE2 or AVX2, where the 64-bit lane multiplies are emulated.
#if defined(__AVX512F__)
inline constexpr bool philox_wide_simd = true;
#else
inline constexpr bool philox_wide_simd = false;
#endif

/// The 64-bit word made of two consecutive stream words, the first one as the low half
/// (a block read as two little-endian 64-bit words).
constexpr std::uint64_t join_words(std::uint32_t first, std::uint32_t second) noexcept {
    return (std::uint64_t{second} << 32) | first;
}

}  // namespace detail

/// @brief Philox4x32-10: the bijection of `counter` keyed by `key`, ten rounds of
/// multiply-hi/lo and xor, the key advanced by the Weyl constants between rounds.
///
/// Salmon, Moraes, Dror, Shaw, SC 2011. Equal to `r123::Philox4x32()(counter, key)`.
/// Random123's C interface defines a function-like macro of the same name; where
/// `<Random123/philox.h>` is included, call this one as `(poisson::philox4x32)(c, k)`.
// The parentheses around the name keep that macro from expanding here.
constexpr philox_counter(philox4x32)(philox_counter counter, philox_key key) noexcept {
    auto& [x0, x1, x2, x3] = counter;
    for (int round = 0; round < detail::philox_rounds; ++round) {
        if (round > 0) {
            key[0] += detail::philox_w0;
            key[1] += detail::philox_w1;
        }
        detail::philox_round(x0, x1, x2, x3, key[0], key[1]);
    }
    return counter;
}

/// @brief The uniforms of one (layer, step, element): Philox4x32-10 run over the counters
/// {block, element, step, layer stream} for block = 0, 1, 2, ..., key = the 64-bit seed
/// (low half in key word 0).
///
/// The stream is the sequence of 32-bit words of blocks 0, 1, ... in order. `next<float>()`
/// takes one word (`open_unit_float`), `next<double>()` two (`open_unit_double` of the first
/// word as the low half and the second as the high half); a double may straddle two blocks.
/// Four words are generated per Philox call and buffered. The block counter is 32 bits: the
/// stream repeats after 2^34 words.
class philox_stream {
public:
    /// @brief The stream of `element` at `step` of layer stream `stream_id` under `seed`.
    constexpr philox_stream(std::uint64_t seed, std::uint32_t stream_id, std::uint32_t step,
                            std::uint32_t element) noexcept
        : m_element(element)
        , m_step(step)
        , m_stream(stream_id)
        , m_key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)} {}

    /// @brief The next uniform on the open interval (0, 1); `T` is float or double.
    template <class T>
    T next() noexcept {
        if constexpr (std::same_as<T, float>) {
            return open_unit_float(next_word());
        } else {
            static_assert(std::same_as<T, double>, "uniforms are float or double");
            const std::uint32_t first = next_word();
            return open_unit_double(detail::join_words(first, next_word()));
        }
    }

    /// @brief Writes the next `n` uniforms to `out`: the same values as `n` calls of
    /// `next<T>()`, with the Philox blocks computed straight into `out`, many at a time.
    template <class T>
    void fill(T* out, std::size_t n) noexcept {
        static_assert(std::same_as<T, float> || std::same_as<T, double>,
                      "uniforms are float or double");
        constexpr bool is_float = std::same_as<T, float>;
        constexpr std::size_t per_block = is_float ? words_per_block : words_per_block / 2;
        // Draw singly up to where whole blocks can be consumed: a block boundary, or for
        // doubles also the last word of a block, left by an odd number of floats (see emit()).
        constexpr std::uint32_t ready = is_float ? words_per_block : words_per_block - 1;
        for (; n > 0 && m_index < ready; --n) *out++ = next<T>();
        if constexpr (detail::philox_wide_simd) {
            std::uint32_t words[lanes * words_per_block];
            for (; n >= lanes * per_block; n -= lanes * per_block) {
                generate_lanes(words);
                out = emit(words, lanes, out);
            }
        }
        for (; n >= per_block; n -= per_block) {
            const auto block = (philox4x32)({m_block++, m_element, m_step, m_stream}, m_key);
            out = emit(block.data(), 1, out);
        }
        for (; n > 0; --n) *out++ = next<T>();
    }

private:
    // Blocks computed together by fill() on AVX-512: independent lanes that vectorise.
    static constexpr std::size_t lanes = 32;
    static constexpr std::size_t words_per_block = 4;

    std::uint32_t next_word() noexcept {
        if (m_index == words_per_block) {
            m_buffer = (philox4x32)({m_block, m_element, m_step, m_stream}, m_key);
            ++m_block;
            m_index = 0;
        }
        return m_buffer[m_index++];
    }

    // Computes the `lanes` blocks from m_block on into `words`, block after block. The words
    // are held in 64-bit lanes: 32-bit lanes made GCC 12 emit far slower code at -O3.
    void generate_lanes(std::uint32_t* words) noexcept {
        std::uint64_t x0[lanes], x1[lanes], x2[lanes], x3[lanes];
        for (std::size_t i = 0; i < lanes; ++i) {
            x0[i] = static_cast<std::uint32_t>(m_block + i);
            x1[i] = m_element;
            x2[i] = m_step;
            x3[i] = m_stream;
        }
        std::uint64_t k0 = m_key[0], k1 = m_key[1];
        for (int round = 0; round < detail::philox_rounds; ++round) {
            for (std::size_t i = 0; i < lanes; ++i) {
                const std::uint64_t p0 = (x0[i] & 0xffffffffu) * detail::philox_m0;
                const std::uint64_t p1 = (x2[i] & 0xffffffffu) * detail::philox_m1;
                x0[i] = (p1 >> 32) ^ x1[i] ^ k0;
                x1[i] = p1 & 0xffffffffu;
                x2[i] = (p0 >> 32) ^ x3[i] ^ k1;
                x3[i] = p0 & 0xffffffffu;
            }
            k0 = (k0 + detail::philox_w0) & 0xffffffffu;
            k1 = (k1 + detail::philox_w1) & 0xffffffffu;
        }
        for (std::size_t i = 0; i < lanes; ++i) {
            words[4 * i] = static_cast<std::uint32_t>(x0[i]);
            words[4 * i + 1] = static_cast<std::uint32_t>(x1[i]);
            words[4 * i + 2] = static_cast<std::uint32_t>(x2[i]);
            words[4 * i + 3] = static_cast<std::uint32_t>(x3[i]);
        }
        m_block += static_cast<std::uint32_t>(lanes);
    }

    // The uniforms of `blocks` whole blocks of fresh words.
    float* emit(const std::uint32_t* words, std::size_t blocks, float* out) noexcept {
        for (std::size_t i = 0; i < blocks * words_per_block; ++i) {
            *out++ = open_unit_float(words[i]);
        }
        return out;
    }

    // On a block boundary the words pair up in place. If one word of the buffer is still
    // pending (index 3), it pairs with the first fresh word, and so on down the line, and
    // the last fresh word becomes the pending one.
    double* emit(const std::uint32_t* words, std::size_t blocks, double* out) noexcept {
        const std::size_t count = blocks * words_per_block;
        std::size_t i = 0;
        if (m_index == words_per_block - 1) {
            *out++ = open_unit_double(detail::join_words(m_buffer[3], words[0]));
            m_buffer[3] = words[count - 1];
            i = 1;
        }
        for (; i + 1 < count; i += 2) {
            *out++ = open_unit_double(detail::join_words(words[i], words[i + 1]));
        }
        return out;
    }

    // The buffer first: the compiler may store it as one vector, and nothing else (notably
    // not m_block, read by the next refill) should share that store.
    philox_counter m_buffer{};
    std::uint32_t m_index = words_per_block;  // all of m_buffer used: generate on next draw
    std::uint32_t m_block = 0;
    std::uint32_t m_element;
    std::uint32_t m_step;
    std::uint32_t m_stream;
    philox_key m_key;
};

/// @brief Counter-based RNG provider over Philox4x32-10.
///
/// The uniforms of (step, element) depend only on the seed, the layer's `stream_id`, the
/// step and the element, so elements may be drawn in any order and on any number of
/// threads. Give every noise layer of a network its own `stream_id`.
class philox {
public:
    /// @brief Streams depend on their key only, not on the order in which they are drawn.
    static constexpr bool is_counter_based = true;

    /// @brief A provider keyed by `seed`; `stream_id` tells the layers of a network apart.
    explicit constexpr philox(std::uint64_t seed, std::uint32_t stream_id = 0) noexcept
        : m_seed(seed), m_stream(stream_id) {}

    /// @brief The stream of `key.element` at `key.step`.
    /// @throws invalid_argument if the step or the element exceeds 2^32 - 1.
    philox_stream stream(const stream_key& key) const {
        return philox_stream(m_seed, m_stream, checked_word("step", key.step),
                             checked_word("element", key.element));
    }

    /// @brief The seed and stream id as text, "philox seed=<seed> stream=<stream_id>".
    std::string state() const {
        return "philox seed=" + std::to_string(m_seed) + " stream=" + std::to_string(m_stream);
    }

    /// @brief Sets the seed and stream id from the text of `state()`.
    /// @throws invalid_argument if the text is not of that form (the provider is unchanged).
    void restore(std::string_view text) {
        std::string_view rest = text;
        std::uint64_t seed = 0;
        std::uint32_t stream_id = 0;
        if (!(take_prefix(rest, "philox seed=") && take_number(rest, seed) &&
              take_prefix(rest, " stream=") && take_number(rest, stream_id) && rest.empty())) {
            throw invalid_argument("philox::restore: \"" + std::string(text) +
                                   "\" is not of the form \"philox seed=<u64> stream=<u32>\"");
        }
        m_seed = seed;
        m_stream = stream_id;
    }

    /// @brief The 64-bit key.
    constexpr std::uint64_t seed() const noexcept { return m_seed; }

    /// @brief The layer stream id (counter word 3).
    constexpr std::uint32_t stream_id() const noexcept { return m_stream; }

private:
    static std::uint32_t checked_word(const char* name, std::uint64_t value) {
        if (value > std::numeric_limits<std::uint32_t>::max()) {
            throw invalid_argument(std::string("philox::stream: ") + name + " " +
                                   std::to_string(value) + " exceeds 2^32 - 1");
        }
        return static_cast<std::uint32_t>(value);
    }

    static bool take_prefix(std::string_view& text, std::string_view prefix) noexcept {
        if (!text.starts_with(prefix)) return false;
        text.remove_prefix(prefix.size());
        return true;
    }

    // Unsigned decimal; from_chars also rejects a sign, blanks and values out of range.
    template <class U>
    static bool take_number(std::string_view& text, U& value) noexcept {
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc{}) return false;
        text.remove_prefix(static_cast<std::size_t>(end - text.data()));
        return true;
    }

    std::uint64_t m_seed;
    std::uint32_t m_stream;
};

static_assert(rng_provider<philox>);
static_assert(uniform_stream<philox_stream>);

}  // namespace poisson
