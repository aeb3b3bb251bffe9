#pragma once

/// @file
/// @brief Exact Poisson draws for a register's worth of elements at once: the bulk path of
/// `straight_through_identity`, computing what `sample_poisson` computes, bit for bit.
///
/// `sample_poisson` works in double whatever the type of the rate, one uniform `next<double>()`
/// per attempt of inversion (rates below 10) and two per attempt of PTRS (rates from 10 on).
/// Here a group of `poisson_lane_count` elements (one register of doubles: 8 with AVX-512,
/// 4 with AVX2) runs side by side:
/// - Inversion runs in lanes (math/simd_math.hpp): the scalar loop's operations (`u - p`,
///   `rate / x`, `p * (rate / x)`, the comparisons), which the lanes perform with the same
///   roundings, from `p_0 = simd_exp(-rate)`. That `p_0` may differ from `std::exp`'s in the
///   last bits, so each step also checks that it decided by a margin that such a difference
///   cannot bridge; a lane with a step inside the margin (about one draw in 10^11) is redone
///   by the scalar loop on the same uniforms. Either way each lane gets `sample_poisson`'s
///   count. Lanes are independent.
/// - The rare redraw after `p` underflows is the scalar loop's, too.
/// - PTRS, whose number of uniforms is random and whose cost does not grow with the rate,
///   runs `detail::poisson_ptrs` itself on each of those lanes in turn, reading that lane's
///   uniforms in stream order.
/// - Uniforms are drawn for all lanes together (`philox_lanes`) and kept, so that every
///   position of every lane's stream is drawn once, in order, whichever code reads it.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/lane_groups.hpp"
#include "poisson/math/simd_math.hpp"
#include "poisson/random/poisson_sampler.hpp"

// Functions on lane vectors: see simd_math.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace poisson::detail {

/// Elements whose draws run side by side: one register of doubles (the sampler's arithmetic).
inline constexpr std::size_t poisson_lane_count = native_lanes<double>;
/// One double per lane, and a comparison mask of such lanes.
using poisson_real_v = vec<double, poisson_lane_count>;
using poisson_mask_v = vec<std::int64_t, poisson_lane_count>;
/// The chunk-local indices of the elements of one group.
using poisson_elements = std::array<std::uint32_t, poisson_lane_count>;

/// Whether any lane of a mask is set: one test instruction where the target has it (a
/// reduction of the lanes by shuffles would cost more than a step of the inversion loop).
inline bool any_lane(poisson_mask_v mask) noexcept {
#if defined(__AVX512F__)
    const auto v = std::bit_cast<__m512i>(mask);
    return _mm512_test_epi64_mask(v, v) != 0;
#elif defined(__AVX2__)
    const auto v = std::bit_cast<__m256i>(mask);
    return _mm256_testz_si256(v, v) == 0;
#elif defined(__SSE2__)
    return _mm_movemask_pd(std::bit_cast<__m128d>(mask)) != 0;
#else
    std::int64_t any = 0;
    for (std::size_t j = 0; j < poisson_lane_count; ++j) any |= mask[j];
    return any != 0;
#endif
}

/// @brief The uniforms of a group's streams, drawn as they are first needed and kept: row
/// `q` holds uniform `q` of every lane's stream.
///
/// Rows are drawn in order, two at a time (one Philox block holds two doubles), so that lane
/// streams that read their stream sequentially (`broadcast_lanes`) see positions in order.
template <class Lanes>
class uniform_rows {
public:
    /// Rows of the streams of `elements`, kept in `buffer` (reused from group to group).
    uniform_rows(Lanes& streams, const poisson_elements& elements, std::vector<double>& buffer)
        : m_streams(&streams), m_elements(&elements), m_buffer(&buffer) {}

    /// Uniform `q` of each lane's stream. Valid until the next call.
    const double* row(std::size_t q) {
        if (q >= m_drawn) draw_through(q);
        return m_buffer->data() + q * poisson_lane_count;
    }

private:
    void draw_through(std::size_t q) {
        const std::size_t end = (q + 2) / 2 * 2;
        m_buffer->resize(end * poisson_lane_count);
        m_streams->template draw<double>(*m_elements, m_drawn, end,
                                         m_buffer->data() + m_drawn * poisson_lane_count);
        m_drawn = end;
    }

    Lanes* m_streams;
    const poisson_elements* m_elements;
    std::vector<double>* m_buffer;
    std::size_t m_drawn = 0;
};

/// @brief One lane's stream, read from the group's rows: the uniform stream PTRS runs on.
template <class Lanes>
class lane_stream {
public:
    lane_stream(uniform_rows<Lanes>& rows, std::size_t lane) noexcept
        : m_rows(&rows), m_lane(lane) {}

    /// The next uniform of the lane's stream. The rows hold doubles, all the sampler uses.
    template <std::floating_point U>
    U next() {
        static_assert(std::same_as<U, double>, "the Poisson sampler draws doubles only");
        return m_rows->row(m_position++)[m_lane];
    }

private:
    uniform_rows<Lanes>* m_rows;
    std::size_t m_lane;
    std::size_t m_position = 0;
};

/// Distance of `u` from `p` under which a step of the lanes' inversion may not decide as the
/// scalar loop does. The lanes start from `simd_exp(-rate)`, within a few ulp of `std::exp`;
/// the relative difference of their `p` from the scalar loop's then grows by at most two
/// roundings a step, and that of `u` by one subtraction's rounding (`2^-53` at most, since
/// `u <= 1`). Over the fewer than 300 steps before `p` falls below `smallest_pmf` (rates are
/// below 10) the two differences stay below `2 10^-13` together, well under this margin.
inline constexpr double inversion_margin = 0x1p-40;
/// Below this `p`, where subnormals would void the bound, the lane leaves the decision (and
/// the redraw after `p` underflows) to the scalar loop.
inline constexpr double smallest_pmf = 0x1p-1000;

/// Whether `|d| <= inversion_margin`, in each lane.
inline poisson_mask_v near_zero(poisson_real_v d) noexcept {
    constexpr std::int64_t magnitude = 0x7fffffffffffffff;
    const auto abs = std::bit_cast<poisson_real_v>(std::bit_cast<poisson_mask_v>(d) & magnitude);
    return abs <= inversion_margin;
}

/// Inversion by sequential search in the lanes of `inverting` (rates in (0, 10)), from uniform
/// 0 of their streams, as `poisson_inversion` but from `p_0 = simd_exp(-rate)`. Returns the
/// counts; sets in `unsure` the lanes one of whose steps came within `inversion_margin`, or
/// reached `smallest_pmf`: there, and only there, the scalar loop may have decided otherwise.
///
/// At step `x` every lane still searching is at count `x`, so `rate / x` is computed for all
/// lanes without waiting for the previous step.
template <class Lanes>
poisson_real_v invert_lanes(poisson_real_v rate, poisson_mask_v inverting,
                            uniform_rows<Lanes>& rows, poisson_mask_v& unsure) {
    poisson_real_v u = load<poisson_real_v>(rows.row(0));
    poisson_real_v p = simd_exp(-rate);
    poisson_real_v count{};
    // d = u - p, exact in sign: u > p is d > 0.
    poisson_real_v d = u - p;
    unsure = inverting & near_zero(d);
    poisson_mask_v searching = inverting & (d > 0.0);
    for (double x = 1.0; any_lane(searching); x += 1.0) {
        // Step x: u -= p, p *= rate / x. Lanes that have stopped take it too, and their u and
        // p are not read again; so neither waits for the comparisons, only the count does.
        u = d;
        p = p * (rate / x);
        count = select(searching, splat<poisson_real_v>(x), count);
        d = u - p;
        const poisson_mask_v tiny = p < smallest_pmf;
        unsure |= searching & (near_zero(d) | tiny);
        searching &= (d > 0.0) & ~tiny;
    }
    return count;
}

/// Exact Poisson counts of a group of rates > 0, each lane from its own element's stream:
/// what `sample_poisson` gives on those streams, bit for bit.
template <class Lanes>
poisson_real_v poisson_group(poisson_real_v rate, const poisson_elements& elements, Lanes& streams,
                             std::vector<double>& buffer) {
    uniform_rows<Lanes> rows(streams, elements, buffer);
    const poisson_mask_v inverting = rate < poisson_ptrs_threshold;
    poisson_mask_v unsure{};
    poisson_real_v count{};
    if (any_lane(inverting)) count = invert_lanes(rate, inverting, rows, unsure);
    // PTRS lanes, and inversion lanes the lanes could not decide for sure (about one in 10^11):
    // the scalar sampler itself, on the lane's uniforms.
    const poisson_mask_v needs_scalar = ~inverting | unsure;
    if (!any_lane(needs_scalar)) return count;
    for (std::size_t j = 0; j < poisson_lane_count; ++j) {
        if (!needs_scalar[j]) continue;
        lane_stream<Lanes> stream(rows, j);
        count[j] =
            inverting[j] ? poisson_inversion(rate[j], stream) : poisson_ptrs(rate[j], stream);
    }
    return count;
}

/// Elements `compact_nonzero` may write past its count.
inline constexpr std::size_t nonzero_block = 16;

/// Writes the indices of the nonzero rates to `order`, in increasing order, and returns how
/// many there are; `order` has room for `nonzero_block` more than `rates.size()`. Without
/// branches: the zeros are mixed with the rest at random.
template <std::floating_point T>
std::size_t compact_nonzero(std::span<const T> rates, std::uint32_t* order) noexcept {
    const std::size_t n = rates.size();
    std::size_t nonzero = 0, i = 0;
#if defined(__AVX512F__)
    // A block of rates at a time: their indices, packed under the mask of the nonzero ones.
    constexpr std::size_t block = 64 / sizeof(T);
    static_assert(block <= nonzero_block);
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (; i + block <= n; i += block) {
        __mmask16 mask;
        if constexpr (std::same_as<T, float>) {
            mask = _mm512_cmp_ps_mask(_mm512_loadu_ps(rates.data() + i), _mm512_setzero_ps(),
                                      _CMP_NEQ_OQ);
        } else {
            mask = _mm512_cmp_pd_mask(_mm512_loadu_pd(rates.data() + i), _mm512_setzero_pd(),
                                      _CMP_NEQ_OQ);
        }
        const __m512i indices = _mm512_add_epi32(lanes, _mm512_set1_epi32(int(i)));
        _mm512_storeu_si512(order + nonzero, _mm512_maskz_compress_epi32(mask, indices));
        nonzero += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(mask)));
    }
#endif
    for (; i < n; ++i) {
        order[nonzero] = static_cast<std::uint32_t>(i);
        nonzero += rates[i] != T(0);
    }
    return nonzero;
}

/// Calls `group(elements, used)` for the nonzero rates of `rates`, `poisson_lane_count` at
/// a time; a last, partial group is padded with copies of its last element, which compute
/// the same values and are not used. Rates 0 get no call. Lanes are independent: the
/// grouping changes no result.
template <std::floating_point T, class Group>
void for_each_nonzero_group(std::span<const T> rates, Group&& group) {
    constexpr std::size_t L = poisson_lane_count;
    const std::size_t n = rates.size();
    std::vector<std::uint32_t> order(n + nonzero_block);  // + room for a block's last store
    const std::size_t nonzero = compact_nonzero(rates, order.data());
    for_each_padded_group<L>(order.data(), nonzero, group);
}

}  // namespace poisson::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
