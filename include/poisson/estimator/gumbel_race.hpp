#pragma once

/// @file
/// @brief The Gumbel-max sample of a truncated Poisson and its softmax relaxation, shared by
/// the Gumbel estimators, computed for a SIMD register's worth of elements at once.
///
/// With `E_i = -log u_i` standard exponential, the Gumbel-perturbed logits are
/// `log p_i + g_i = -log(E_i / p_i)`, so the Gumbel-max count is the category with the
/// smallest "arrival time" `T_i = E_i / p_i` (an exponential race), and the relaxed sample at
/// temperature `tau` has weights `y_i ~ (T_c / T_i)^(1/tau)` with `c` the winner. `p_i` is the
/// pmf relative to the mode, `p_i = P(i) / P(mode)` (the normalisation cancels, as it does in
/// Gumbel-max). Category `i` always uses uniform number `i` of the element's stream.
///
/// Categories whose pmf is below `exp(-window_width(tau))` times the mode's are skipped: no
/// uniform on (0, 1) that our providers produce lets them win (the Gumbel noise lies in
/// [-2.8, 16.6]) and their softmax weight is below 2^-30 of the winner's. This turns the cost of
/// a small rate into a few categories even when the batch's largest rate makes `k` large.
///
/// How it is made fast without changing what is computed (each the same mathematics as the
/// one-element loop it replaces; only roundings differ, and tests/core/test_gumbel_bulk.cpp
/// checks the results against the definitions computed in double with `lgamma`):
/// - Lanes. The kernel works on `group_size<T>` elements at once (16 floats with AVX-512, 8
///   with AVX2, 4 with SSE2), one per lane of SIMD vectors (math/simd_math.hpp). No operation
///   mixes lanes, so an element's result does not depend on its neighbours: a single element
///   (`sample()`) runs as copies of itself through the same code and gets the same bits as
///   inside the layer, and neither the number of threads nor the grouping changes anything.
/// - The group iterates over the union of its lanes' windows. Outside its own window a lane
///   has `p = 0`: its `1 / T = p / E` is 0, so it cannot win and its weight is exactly 0, and
///   adding exact zeros leaves every sum as the lane's own window gives it.
/// - A per-pass table gives, for each mode, bounds that contain the window of every rate with
///   that mode. A lane runs the recurrence `p_i = p_(i-1) rate / i` (in double) from its lower
///   bound, where it starts from `e^(log p)` with `log p = (lo - m) log(rate) - (log lo! -
///   log m!)`: every lane can start where its own window does, whatever its mode, and the
///   value at a category depends on the lane alone. The window is the categories, within the
///   bounds, whose `p_i` reaches the floor.
/// - The race keeps `1 / T_i = p_i / E_i`: the ratios `T_c / T_i` of the relaxation are then
///   products, not divisions. The winner's ratio is set to 1 exactly, as `T_c / T_c` is.
/// - The nonzero rates of a chunk are grouped by mode, so that a group's windows nearly
///   coincide; zero rates go to groups of their own (they need two uniforms each, at most).
/// - `log` and `exp` are the branch-free `simd_log` / `simd_exp` (within about 1 ulp of the C
///   library's), the uniforms of a group come from their streams together (`philox_lanes`).

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/lane_groups.hpp"
#include "poisson/math/log_factorial.hpp"
#include "poisson/math/simd_math.hpp"

// Functions on lane vectors: see simd_math.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace poisson::detail {

/// Elements computed side by side: one register of `T`.
template <std::floating_point T>
inline constexpr std::size_t group_size = native_lanes<T>;

/// One register of `T`, and of integers of its size (indices, comparison masks).
template <std::floating_point T>
using real_v = vec<T, group_size<T>>;
template <std::floating_point T>
using index_v = vec<same_size_int<T>, group_size<T>>;
/// Double precision for each lane: two registers for floats, arithmetic only.
template <std::floating_point T>
using wide_v = double_lanes<group_size<T>>;

/// The chunk-local indices of the elements of a lane group.
template <std::floating_point T>
using lane_elements = std::array<std::uint32_t, group_size<T>>;

/// Width, in log-pmf units below the mode, of the categories that are kept.
/// 19.4 covers the spread of the Gumbel noise; 21 tau makes the softmax weight <= e^-21.
template <std::floating_point T>
T window_width(T tau) {
    const T width = T(20) + T(21) * tau;
    // Keep exp(-width) a normal float; beyond tau ~ 2.9 the skipped weights may reach 1e-5.
    return std::is_same_v<T, float> ? std::min(width, T(80)) : std::min(width, T(700));
}

/// The categories `lo..hi` (inclusive) of one element that can matter.
struct category_window {
    std::size_t lo;
    std::size_t hi;
};

/// The mode used as reference of the relative pmf, `min(floor(rate), k)`.
template <std::floating_point T>
std::size_t pmf_mode(T rate, std::size_t k) {
    return rate >= static_cast<T>(k) ? k : static_cast<std::size_t>(rate);
}

/// `log(i!)` and `1 / i` (0 for `i = 0`) for `i < shared_table_size`, computed once for the
/// program (a function-local static: initialised once, safely, whichever thread comes first)
/// and shared by every plan, so that a single element's plan costs no table.
inline constexpr std::size_t shared_table_size = 4097;

struct factorial_tables {
    std::vector<double> log_factorial, inverse;
};

inline const factorial_tables& shared_factorial_tables() {
    static const factorial_tables tables = [] {
        factorial_tables t;
        for (std::size_t i = 0; i < shared_table_size; ++i) {
            t.log_factorial.push_back(poisson::log_factorial(double(i)));
            t.inverse.push_back(i == 0 ? 0.0 : 1.0 / double(i));
        }
        return t;
    }();
    return tables;
}

/// @brief What the kernel needs for one pass: `k`, `tau`, `log i!` and, for each mode `m`,
/// bounds that contain the window of every rate whose mode is `m`.
///
/// Element `i` is kept if `log p_i >= -width + min(0, log rate)` (the second term keeps count
/// 1 for tiny rates: its weight is of order `rate`, but so is the divisor of the derivative
/// `Var_y / (tau rate)`, to which it contributes a term of order 1). For `i > m`, `log p_i`
/// grows with the rate, so the window of any rate in `[m, m + 1)` ends at or before that of
/// `m + 1`; for `i < m` it shrinks with the rate, so the window starts at or after that of
/// `m`. The bounds are those, widened by one category against rounding. A plan holds every
/// value as a function of `i`, `m`, `k` and `tau` alone, so that the whole pass's plan and a
/// single element's give the same numbers.
template <std::floating_point T>
class gumbel_plan {
public:
    /// Tables for the modes `first_mode..last_mode` (none if `last_mode < first_mode`: a
    /// plan for rates 0 only).
    gumbel_plan(std::size_t k, T tau, std::size_t first_mode, std::size_t last_mode)
        : m_k(k)
        , m_tau(tau)
        , m_width(window_width(tau))
        , m_first_mode(first_mode)
        , m_shared_log_factorial(shared_factorial_tables().log_factorial.data())
        , m_shared_inverse(shared_factorial_tables().inverse.data()) {
        // log(i!) beyond the shared table: for a whole pass, over all of 0..k first, as the
        // searches of the bounds read it; for one mode, over that mode's bounds once found.
        const bool whole = first_mode == 0 && last_mode >= k;
        if (whole) fill_own_table(shared_table_size, k);
        std::size_t lo = k, hi = 0;
        for (std::size_t m = first_mode; m <= last_mode && m <= k; ++m) {
            m_bounds.push_back({lower_bound(m), upper_bound(m)});
            lo = std::min(lo, m_bounds.back().lo);
            hi = std::max(hi, m_bounds.back().hi);
        }
        m_span = m_bounds.empty() ? 1 : hi - lo + 1;
        if (!whole && !m_bounds.empty()) fill_own_table(std::max(lo, shared_table_size), hi);
        for (std::size_t m = first_mode; m < first_mode + m_bounds.size(); ++m) {
            const category_window b = bounds(m);
            m_modes.insert(m_modes.end(),
                           {double(b.lo), double(b.hi), log_factorial(b.lo) - log_factorial(m)});
        }
    }

    /// A plan for rates 0 only.
    gumbel_plan(std::size_t k, T tau) : gumbel_plan(k, tau, 1, 0) {}

    /// The tables one element of rate `rate` needs.
    static gumbel_plan for_rate(std::size_t k, T tau, T rate) {
        if (rate == T(0)) return gumbel_plan(k, tau);
        const std::size_t m = pmf_mode(rate, k);
        return gumbel_plan(k, tau, m, m);
    }

    /// The tables a whole pass needs.
    static gumbel_plan for_pass(std::size_t k, T tau) { return gumbel_plan(k, tau, 0, k); }

    std::size_t k() const noexcept { return m_k; }
    T tau() const noexcept { return m_tau; }
    double width() const noexcept { return m_width; }
    /// Most categories a group's bounds can span.
    std::size_t max_span() const noexcept { return m_span; }

    double log_factorial(std::size_t i) const noexcept {
        return i < shared_table_size ? m_shared_log_factorial[i]
                                     : m_own_log_factorial[i - m_own_first];
    }
    /// `1 / i`, and 0 for `i = 0`.
    double inverse(std::size_t i) const noexcept {
        return i < shared_table_size ? m_shared_inverse[i] : 1.0 / double(i);
    }
    category_window bounds(std::size_t mode) const noexcept {
        return m_bounds[mode - m_first_mode];
    }

    /// Per mode, from the first one on, three doubles for lanes to gather: the bounds `lo`
    /// and `hi` and `log lo! - log m!`.
    const double* modes() const noexcept { return m_modes.data(); }
    std::size_t first_mode() const noexcept { return m_first_mode; }

private:
    void fill_own_table(std::size_t first, std::size_t last) {
        m_own_first = first;
        for (std::size_t i = first; i <= last; ++i) {
            m_own_log_factorial.push_back(poisson::log_factorial(double(i)));
        }
    }

    // log(i!), from the tables where they reach and directly beyond: the same values either
    // way (a single mode's bounds are searched before its own table exists).
    double any_log_factorial(std::size_t i) const {
        if (i < shared_table_size) return m_shared_log_factorial[i];
        if (i >= m_own_first && i - m_own_first < m_own_log_factorial.size()) {
            return m_own_log_factorial[i - m_own_first];
        }
        return poisson::log_factorial(double(i));
    }

    // Whether category i is kept at rate r when the mode is m (r >= 1 here: no floor term).
    bool kept(std::size_t i, std::size_t m, double log_r) const {
        const double log_factorials = any_log_factorial(i) - any_log_factorial(m);
        return (double(i) - double(m)) * log_r - log_factorials >= -m_width;
    }

    // First kept category at r = m; log p_i increases on 0..m, so bisect.
    std::size_t lower_bound(std::size_t m) const {
        if (m == 0) return 0;
        const double log_r = std::log(double(m));
        std::size_t lo = 0, hi = m;  // kept(hi) holds
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo) / 2;
            if (kept(mid, m, log_r)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo > 0 ? lo - 1 : 0;
    }

    // Last kept category at r = m + 1 (r = 1 for m = 0, where the floor term vanishes);
    // log p_i decreases on m..k.
    std::size_t upper_bound(std::size_t m) const {
        if (m == m_k) return m_k;
        const double log_r = std::log(double(m) + 1.0);
        std::size_t lo = m, hi = m_k;  // kept(lo) holds
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo + 1) / 2;
            if (kept(mid, m, log_r)) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return std::min(m_k, lo + 1);
    }

    std::size_t m_k;
    T m_tau;
    double m_width;
    std::size_t m_first_mode;
    // The shared tables, held directly: a call to shared_factorial_tables() tests its guard.
    const double* m_shared_log_factorial;
    const double* m_shared_inverse;
    std::size_t m_span = 1;
    std::size_t m_own_first = shared_table_size;
    std::vector<double> m_own_log_factorial;
    std::vector<category_window> m_bounds;
    std::vector<double> m_modes;
};

/// Row-major buffers of a lane group (row = category or stream position, column = lane),
/// allocated once for many groups.
template <std::floating_point T>
class gumbel_workspace {
public:
    /// Room for the rows of the pmf and of `1 / T`, and of the uniforms of the race and of
    /// `draws` conditional redraws per category.
    gumbel_workspace(const gumbel_plan<T>& plan, std::size_t draws)
        : m_span(plan.max_span())
        // + 1: a row lanes that are done may read; rates 0 draw two uniforms per draw.
        , m_uniform_rows(std::max(m_span * (draws + 1) + 1, 2 * draws + 2))
        , m_buffer(new T[(2 * m_span + m_uniform_rows) * group_size<T> + group_size<T>]) {
        // Not initialised: every row is written before it is read. Rows start on a register's
        // alignment: a row stored across two cache lines costs several times an aligned one.
        const auto address = reinterpret_cast<std::uintptr_t>(m_buffer.get());
        m_rows = m_buffer.get() + (simd_bytes - address % simd_bytes) % simd_bytes / sizeof(T);
    }

    T* pmf() noexcept { return m_rows; }
    T* inverse_arrivals() noexcept { return m_rows + m_span * group_size<T>; }
    T* uniforms() noexcept { return m_rows + 2 * m_span * group_size<T>; }
    std::size_t uniform_rows() const noexcept { return m_uniform_rows; }

private:
    std::size_t m_span;
    std::size_t m_uniform_rows;
    std::unique_ptr<T[]> m_buffer;
    T* m_rows;
};

/// The state of one lane group: per-lane windows, then the race's results.
template <std::floating_point T>
struct gumbel_group {
    real_v<T> rate;
    index_v<T> lo, hi;          ///< window of each lane
    std::size_t first = 0;      ///< first category of the pmf rows
    std::size_t window_lo = 0;  ///< smallest lo of the lanes
    std::size_t window_hi = 0;  ///< largest hi of the lanes
    index_v<T> count;           ///< the Gumbel-max winner
    real_v<T> best;             ///< its arrival time T_c
    real_v<T> relaxed;          ///< c + E_y[i - c]
    wide_v<T> variance;         ///< Var_y(i)
};

/// -log(u) for u in (0, 1): a standard exponential. A uniform below the smallest normal
/// number (which no provider of the library yields: floats are >= 2^-24) is taken as it.
template <class V>
V exponential(V u) noexcept {
    constexpr auto smallest = std::numeric_limits<lane_t<V>>::min();
    return -simd_log_normal(select(u < smallest, splat<V>(smallest), u));
}

/// `v`'s lanes combined pairwise by `pick(a, b)` (a lane-wise choice), by halving the vector:
/// log2 of the lanes' count steps.
template <class V, class Pick>
lane_t<V> lane_reduce(V v, Pick pick) noexcept {
    if constexpr (lanes_of<V> == 1) {
        return v[0];
    } else {
        constexpr std::size_t half = lanes_of<V> / 2;
        return lane_reduce(pick(lanes_part<0, half>(v), lanes_part<half, half>(v)), pick);
    }
}

/// Smallest and largest lane.
template <class V>
lane_t<V> lane_min(V v) noexcept {
    return lane_reduce(v, [](auto a, auto b) { return select(a < b, a, b); });
}
template <class V>
lane_t<V> lane_max(V v) noexcept {
    return lane_reduce(v, [](auto a, auto b) { return select(a < b, b, a); });
}
template <std::size_t N>
double lane_min(const double_lanes<N>& d) noexcept {
    double m = lane_min(d.part_v[0]);
    for (std::size_t k = 1; k < double_lanes<N>::parts; ++k) m = std::min(m, lane_min(d.part_v[k]));
    return m;
}
template <std::size_t N>
double lane_max(const double_lanes<N>& d) noexcept {
    double m = lane_max(d.part_v[0]);
    for (std::size_t k = 1; k < double_lanes<N>::parts; ++k) m = std::max(m, lane_max(d.part_v[k]));
    return m;
}

/// Computes the windows and the relative pmf rows `p` (from category `g.first`) of a group
/// whose rates are all > 0.
///
/// Within the bounds of its mode, lane `j` runs the recurrence `p_i = p_(i-1) rate / i` from
/// `p_lo = e^(log p_lo)` at its lower bound `lo` (an exact start, whatever the mode), in
/// double; outside, `p = 0`. Category `i` is in the window if `p_i >= floor`.
template <std::floating_point T>
void window_lanes(const gumbel_plan<T>& plan, gumbel_group<T>& g, T* p) {
    using wide = wide_v<T>;
    using I = same_size_int<T>;
    // mode = min(floor(rate), k), then the per-mode tables, gathered.
    const real_v<T> capped = select(g.rate < T(plan.k()), g.rate, splat<real_v<T>>(T(plan.k())));
    const index_v<T> mode = convert<I>(capped);
    const index_v<T> row = (mode - static_cast<I>(plan.first_mode())) * I(3);
    const double* modes = plan.modes();
    const wide bound_lo = gather_wide(modes, row);
    const wide bound_hi = gather_wide(modes + 1, row);
    const wide rate = widen(g.rate);
    const wide log_rate = rate.map([](auto v) { return simd_log_normal(v); });
    const auto exp = [](auto v) { return simd_exp(v); };  // on each register
    // p_lo = e^((lo - m) log rate - (log lo! - log m!)); the floor e^(-width) min(1, rate).
    const wide log_start = (bound_lo - widen(mode)) * log_rate - gather_wide(modes + 2, row);
    const wide start = log_start.map(exp);
    const wide floor = (select(log_rate < wide(0.0), log_rate, wide{}) - plan.width()).map(exp);
    g.first = static_cast<std::size_t>(lane_min(bound_lo));
    const auto last = static_cast<std::size_t>(lane_max(bound_hi));
    wide hi(-1.0), size;  // the window's end and size, as doubles (integers, exactly)
    const auto keep = [&](std::size_t i, const wide& q, const wide& category) {
        // floor > 0 makes q = 0 fail the test, except for doubles, whose floor can be 0.
        auto in = floor <= q;
        if constexpr (std::same_as<T, double>) in = in & (bound_lo <= category);
        store_narrow(p + (i - g.first) * group_size<T>, select(in, q, wide{}));
        hi = select(in, category, hi);
        size = size + select(in, wide(1.0), wide{});
    };
    if (lane_max(bound_lo) == double(g.first) && lane_min(bound_hi) == double(last)) {
        // Every lane has the group's bounds (the usual case, lanes being grouped by mode): the
        // same operations as below, without the tests of each lane's own bounds.
        wide q = start;
        keep(g.first, q, wide(double(g.first)));
        for (std::size_t i = g.first + 1; i <= last; ++i) {
            q = q * (rate * plan.inverse(i));
            keep(i, q, wide(double(i)));
        }
    } else {
        // q is 0 below the lower bound (0 times anything) and above the upper one.
        wide q;
        for (std::size_t i = g.first; i <= last; ++i) {
            const wide category(static_cast<double>(i));
            const wide next = select(category <= bound_hi, q * (rate * plan.inverse(i)), wide{});
            q = select(category == bound_lo, start, next);
            keep(i, q, category);
        }
    }
    // The window is contiguous (p_i decreases away from the mode), so it starts at hi - size + 1.
    g.lo = narrow<I>(hi - size + 1.0);
    g.hi = narrow<I>(hi);
    g.window_lo = static_cast<std::size_t>(lane_min(g.lo));
    g.window_hi = static_cast<std::size_t>(lane_max(g.hi));
}

/// @brief Running moments of the softmax weights `y_i ~ (T_c / T_i)^(1/tau)` of a group,
/// taken about the winner `c` so that the variance does not cancel catastrophically at
/// large counts; categories are added in increasing order.
template <std::floating_point T>
class weight_moments {
public:
    weight_moments(T tau, index_v<T> winner) noexcept
        : m_tau(tau), m_inv_tau(T(1) / tau), m_winner(widen(winner)) {}

    /// Adds category `i` with `ratio = T_c / T_i` (1 for the winner, 0 outside the window).
    void add(std::size_t i, real_v<T> ratio) noexcept {
        const auto weight = widen(m_tau == T(1) ? ratio : simd_exp(simd_log(ratio) * m_inv_tau));
        const auto offset = double(i) - m_winner;
        m_sum += weight;
        m_first += weight * offset;
        m_second += weight * offset * offset;
    }

    /// `E_y[i - c]`.
    wide_v<T> mean() const noexcept { return m_first / m_sum; }

    /// `Var_y(i)`.
    wide_v<T> variance() const noexcept {
        const wide_v<T> mean = m_first / m_sum;
        wide_v<T> variance = m_second / m_sum - mean * mean;
        for (std::size_t j = 0; j < group_size<T>; ++j) {
            variance.set(j, std::max(0.0, variance[j]));
        }
        return variance;
    }

private:
    T m_tau;
    T m_inv_tau;
    wide_v<T> m_winner;
    wide_v<T> m_sum, m_first, m_second;
};

/// The Gumbel-max race over the windows and its relaxation. `u` holds the uniforms from
/// stream position `g.window_lo` on; `inverse_arrivals` receives rows of `1 / T_i`.
///
/// The race keeps `1 / T_i = p_i / E_i` rather than `T_i`: the winner has the largest, a
/// category outside the window has 0 (no select needed), and the ratios `T_c / T_i` are then
/// products with `T_c` instead of divisions (a division costs 5 to 10 multiplications).
template <std::floating_point T>
void race_lanes(const gumbel_plan<T>& plan, gumbel_group<T>& g, const T* p, const T* u,
                T* inverse_arrivals) {
    using real = real_v<T>;
    using index = index_v<T>;
    constexpr std::size_t L = group_size<T>;
    real best{};  // the largest 1 / T_i so far; locals: see window_lanes
    index count = g.lo;
    for (std::size_t i = g.window_lo; i <= g.window_hi; ++i) {
        const real p_i = load<real>(p + (i - g.first) * L);
        const real inverse = p_i / exponential(load<real>(u + (i - g.window_lo) * L));
        store(inverse_arrivals + (i - g.window_lo) * L, inverse);
        const auto better = best < inverse;
        best = select(better, inverse, best);
        count = select(better, splat<index>(same_size_int<T>(i)), count);
    }
    g.count = count;
    g.best = T(1) / best;  // T_c
    weight_moments<T> moments(plan.tau(), count);
    for (std::size_t i = g.window_lo; i <= g.window_hi; ++i) {
        const real inverse = load<real>(inverse_arrivals + (i - g.window_lo) * L);
        const auto winner = count == same_size_int<T>(i);
        moments.add(i, select(winner, splat<real>(T(1)), g.best * inverse));
    }
    g.variance = moments.variance();
    g.relaxed = narrow<T>(widen(count) + moments.mean());
}

/// Windows, uniforms and race of one group of nonzero rates. `extra_draws` further uniforms
/// per window category are drawn after the race's (for Gumbel-Rao).
template <std::floating_point T, class Lanes>
void run_race(const gumbel_plan<T>& plan, gumbel_group<T>& g, const lane_elements<T>& elements,
              Lanes& streams, gumbel_workspace<T>& work, std::size_t extra_draws) {
    constexpr std::size_t L = group_size<T>;
    window_lanes(plan, g, work.pmf());
    std::size_t end = 0;  // one past the last stream position any lane uses
    for (std::size_t j = 0; j < L; ++j) {
        const auto size = std::size_t(g.hi[j] - g.lo[j] + 1);
        end = std::max(end, std::size_t(g.hi[j]) + 1 + extra_draws * size);
    }
    T* u = work.uniforms();
    streams.template draw<T>(elements, g.window_lo, end, u);
    std::fill(u + (end - g.window_lo) * L, u + work.uniform_rows() * L,
              T(0.5));  // rows no lane uses, read by lanes that have finished
    race_lanes(plan, g, work.pmf(), u, work.inverse_arrivals());
}

/// `Var_y(i) / (tau rate)` as the rate tends to 0 from above, for `draws` independent sets of
/// uniforms averaged: 0 for `tau < 1`, `E_0 / E_1` for `tau = 1` (the weight of count 1 grows
/// like `rate E_0 / E_1`), and infinite for `tau > 1`, where 0 is returned by convention
/// (see docs/math.md). Draw `d` uses uniforms `2d` and `2d + 1`.
template <std::floating_point T, class Lanes>
real_v<T> zero_rate_derivatives(const gumbel_plan<T>& plan, const lane_elements<T>& elements,
                                Lanes& streams, gumbel_workspace<T>& work, std::size_t draws) {
    constexpr std::size_t L = group_size<T>;
    real_v<T> sum{};
    if (plan.k() == 0 || plan.tau() != T(1)) return sum;
    T* u = work.uniforms();
    streams.template draw<T>(elements, 0, 2 * draws, u);
    for (std::size_t d = 0; d < draws; ++d) {
        const T* u0 = u + 2 * d * L;
        sum += exponential(load<real_v<T>>(u0)) / exponential(load<real_v<T>>(u0 + L));
    }
    return draws > 1 ? sum / T(draws) : sum;
}

/// Splits `rates` into groups of `group_size<T>` nonzero and of zero rates and calls
/// `nonzero(elements, used)` or `zero(elements, used)` for each; a last, partial group is
/// padded with copies of its last element, which compute the same values and are not used.
///
/// The nonzero rates are grouped by mode (a counting sort on up to 64 buckets of modes), so
/// that the windows of a group's lanes nearly coincide and the group iterates over few
/// categories more than each lane needs; lanes are independent, so this changes no result.
template <std::floating_point T, class Nonzero, class Zero>
void for_each_lane_group(std::span<const T> rates, std::size_t k, Nonzero&& nonzero, Zero&& zero) {
    constexpr std::size_t L = group_size<T>;
    constexpr std::size_t max_buckets = 64;
    const std::size_t buckets = std::min(k + 1, max_buckets);
    const T scale = T(buckets) / T(k + 1);
    const std::size_t n = rates.size();
    if (n == 1) {  // sample(): one element, as a group of copies of itself, nothing to sort
        lane_elements<T> group{};
        rates[0] == T(0) ? zero(group, 1) : nonzero(group, 1);
        return;
    }
    // Split zeros from the rest without branches (the two are mixed at random: a branch
    // would be mispredicted half the time), keeping each nonzero rate's bucket.
    std::vector<std::uint32_t> zeros(n + 1), positive(n + 1), order;
    std::vector<std::uint8_t> bucket(n + 1);
    std::size_t n_zeros = 0, n_positive = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const bool is_zero = rates[i] == T(0);
        zeros[n_zeros] = static_cast<std::uint32_t>(i);
        positive[n_positive] = static_cast<std::uint32_t>(i);
        // The mode scaled to the buckets (the mode itself when k < 64), all in float, without
        // branches: any key groups the lanes without changing a result.
        const T scaled = std::min(rates[i], T(k)) * scale;
        bucket[n_positive] = static_cast<std::uint8_t>(std::min(scaled, T(buckets - 1)));
        n_zeros += is_zero;
        n_positive += !is_zero;
    }
    // Counting sort of the nonzero ones by bucket.
    std::array<std::uint32_t, max_buckets + 1> start{};
    for (std::size_t i = 0; i < n_positive; ++i) ++start[bucket[i] + 1];
    for (std::size_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
    order.resize(n_positive);
    for (std::size_t i = 0; i < n_positive; ++i) order[start[bucket[i]]++] = positive[i];

    for_each_padded_group<L>(zeros.data(), n_zeros, zero);
    for_each_padded_group<L>(order.data(), n_positive, nonzero);
}

/// Rates of the lanes of a group.
template <std::floating_point T>
real_v<T> gather_rates(std::span<const T> rates, const lane_elements<T>& elements) {
    real_v<T> out;
    for (std::size_t j = 0; j < group_size<T>; ++j) out[j] = rates[elements[j]];
    return out;
}

}  // namespace poisson::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
