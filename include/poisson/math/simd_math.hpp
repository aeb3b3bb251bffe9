#pragma once

/// @file
/// @brief SIMD vectors (GCC/Clang vector extensions), their logarithm and exponential.
///
/// `vec<X, N>` is a vector of `N` values of `X` whose operators act lane by lane; a select
/// `mask ? a : b` on it is a blend, never a branch. So code written on these vectors is SIMD
/// code whatever the optimiser decides, where a loop over lanes may stay scalar (the
/// auto-vectoriser gives up on a floating-point operation under a condition, which "may
/// trap"). `native_lanes<T>` values of `T` fill one register of the target (`-march`): 16
/// floats with AVX-512, 8 with AVX2, 4 with SSE2. GCC 12 lowers arithmetic on wider vectors
/// to several registers, but comparisons and selects on them to scalar code: wider vectors
/// are only used for arithmetic and conversions.
///
/// `simd_log` and `simd_exp` replace the C library's calls, which would run lane after lane.
/// They are branch-free: bit manipulation, blends and a polynomial. Accuracy, checked over
/// all floats in the tested ranges (tests/core/test_simd_math.cpp): the float functions are
/// within 1 ulp of the correctly rounded result, the double ones within 3 ulp. The
/// polynomial coefficients are minimax fits computed for this library (Remez exchange on the
/// relative error).

#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

// GCC notes that passing 64-byte vectors by value would have another ABI without AVX-512;
// these functions are inline, never called across object files built with other flags.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace poisson::detail {

/// Bytes of the widest register the target has for floats and 32/64-bit integers.
#if defined(__AVX512F__)
inline constexpr std::size_t simd_bytes = 64;
#elif defined(__AVX2__)
inline constexpr std::size_t simd_bytes = 32;
#else
inline constexpr std::size_t simd_bytes = 16;
#endif

/// Values of `T` in one register.
template <class T>
inline constexpr std::size_t native_lanes = simd_bytes / sizeof(T);

template <class X, std::size_t N>
struct vector_of {
    typedef X type __attribute__((vector_size(N * sizeof(X))));
};

/// @brief `N` values of `X`, operated on lane by lane.
template <class X, std::size_t N>
using vec = typename vector_of<X, N>::type;

/// The type of one lane of the vector `V`, and the number of lanes.
template <class V>
using lane_t = std::remove_cvref_t<decltype(std::declval<V>()[0])>;
template <class V>
inline constexpr std::size_t lanes_of = sizeof(V) / sizeof(lane_t<V>);

/// A vector of `X` with as many lanes as `V`.
template <class X, class V>
using like = vec<X, lanes_of<V>>;

/// The signed integer of the size of `X`: the lanes of a comparison result (-1 or 0).
template <class X>
using same_size_int = std::conditional_t<sizeof(X) == 4, std::int32_t, std::int64_t>;
template <class X>
using same_size_uint = std::make_unsigned_t<same_size_int<X>>;

/// Every lane equal to `x`.
template <class V>
V splat(lane_t<V> x) noexcept {
    return V{} + x;
}

/// Lane-by-lane `static_cast`.
template <class To, class V>
like<To, V> convert(V v) noexcept {
    return __builtin_convertvector(v, like<To, V>);
}

/// `mask ? a : b` lane by lane, for the mask of a comparison of lanes of any size.
template <class V, class M>
V select(M mask, V a, V b) noexcept {
    return __builtin_convertvector(mask, like<same_size_int<lane_t<V>>, V>) ? a : b;
}

/// The vector of the values at `p`, `p + 1`, ... (no alignment needed), and back.
template <class V>
V load(const lane_t<V>* p) noexcept {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class V>
void store(lane_t<V>* p, V v) noexcept {
    std::memcpy(p, &v, sizeof v);
}

/// `base[index[j]]` in each lane `j` (a gather instruction where the target has one).
template <class T, class I>
vec<T, lanes_of<I>> gather(const T* base, I index) noexcept {
    using V = vec<T, lanes_of<I>>;
    static_assert(sizeof(lane_t<I>) == sizeof(T), "indices of the size of the values");
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && std::same_as<T, float>) {
        return std::bit_cast<V>(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), __mmask16(0xffff),
                                                         std::bit_cast<__m512i>(index), base, 4));
    } else if constexpr (sizeof(V) == 64 && std::same_as<T, double>) {
        return std::bit_cast<V>(_mm512_mask_i64gather_pd(_mm512_setzero_pd(), __mmask8(0xff),
                                                         std::bit_cast<__m512i>(index), base, 8));
    }
#endif
#if defined(__AVX2__)
    if constexpr (sizeof(V) == 32 && std::same_as<T, float>) {
        const __m256 all = std::bit_cast<__m256>(splat<vec<std::int32_t, 8>>(-1));
        return std::bit_cast<V>(_mm256_mask_i32gather_ps(_mm256_setzero_ps(), base,
                                                         std::bit_cast<__m256i>(index), all, 4));
    } else if constexpr (sizeof(V) == 32 && std::same_as<T, double>) {
        const __m256d all = std::bit_cast<__m256d>(splat<vec<std::int64_t, 4>>(-1));
        return std::bit_cast<V>(_mm256_mask_i64gather_pd(_mm256_setzero_pd(), base,
                                                         std::bit_cast<__m256i>(index), all, 8));
    }
#endif
    V out;
    for (std::size_t j = 0; j < lanes_of<I>; ++j) out[j] = base[index[j]];
    return out;
}

/// A register of doubles `D` gathered with 32-bit indices.
template <class D, class I>
D gather_part(const double* base, I index) noexcept {
#if defined(__AVX512F__)
    if constexpr (sizeof(D) == 64) {
        return std::bit_cast<D>(_mm512_mask_i32gather_pd(_mm512_setzero_pd(), __mmask8(0xff),
                                                         std::bit_cast<__m256i>(index), base, 8));
    }
#endif
#if defined(__AVX2__)
    if constexpr (sizeof(D) == 32) {
        const __m256d all = std::bit_cast<__m256d>(splat<vec<std::int64_t, 4>>(-1));
        return std::bit_cast<D>(_mm256_mask_i32gather_pd(_mm256_setzero_pd(), base,
                                                         std::bit_cast<__m128i>(index), all, 8));
    }
#endif
    D out;
    for (std::size_t j = 0; j < lanes_of<D>; ++j) out[j] = base[index[j]];
    return out;
}

/// The lanes `[Offset, Offset + N)` of `v`.
template <std::size_t Offset, std::size_t N, class V>
vec<lane_t<V>, N> lanes_part(V v) noexcept {
    if constexpr (N == lanes_of<V>) {
        return v;
    } else {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return __builtin_shufflevector(v, v, (I + Offset)...);
        }(std::make_index_sequence<N>{});
    }
}

/// The lanes of `a`, then those of `b`.
template <class V>
vec<lane_t<V>, 2 * lanes_of<V>> concat(V a, V b) noexcept {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return __builtin_shufflevector(a, b, I...);
    }(std::make_index_sequence<2 * lanes_of<V>>{});
}

/// @brief `N` doubles held as whole registers, with lane-by-lane arithmetic, comparisons
/// and selects.
///
/// A vector wider than a register is kept on the stack by GCC, every operation a load and a
/// store, and its comparisons become scalar code; this keeps each register's worth apart.
template <std::size_t N>
struct double_lanes {
    static constexpr std::size_t per_part = N < native_lanes<double> ? N : native_lanes<double>;
    static constexpr std::size_t parts = N / per_part;
    using part = vec<double, per_part>;
    using part_mask = vec<std::int64_t, per_part>;
    std::array<part, parts> part_v{};

    /// The result of a comparison: -1 (all bits) where true, 0 where false.
    struct mask {
        std::array<part_mask, parts> part_v;
        friend mask operator&(const mask& a, const mask& b) noexcept {
            mask out;
            for (std::size_t k = 0; k < parts; ++k) out.part_v[k] = a.part_v[k] & b.part_v[k];
            return out;
        }
        friend mask operator|(const mask& a, const mask& b) noexcept {
            mask out;
            for (std::size_t k = 0; k < parts; ++k) out.part_v[k] = a.part_v[k] | b.part_v[k];
            return out;
        }
    };
    template <class F>
    friend mask compare(const double_lanes& a, const double_lanes& b, F f) noexcept {
        mask out;
        for (std::size_t k = 0; k < parts; ++k) out.part_v[k] = f(a.part_v[k], b.part_v[k]);
        return out;
    }
    friend mask operator==(const double_lanes& a, const double_lanes& b) noexcept {
        return compare(a, b, [](part x, part y) { return x == y; });
    }
    friend mask operator<(const double_lanes& a, const double_lanes& b) noexcept {
        return compare(a, b, [](part x, part y) { return x < y; });
    }
    friend mask operator<=(const double_lanes& a, const double_lanes& b) noexcept {
        return compare(a, b, [](part x, part y) { return x <= y; });
    }
    /// `m ? a : b` lane by lane.
    friend double_lanes select(const mask& m, const double_lanes& a,
                               const double_lanes& b) noexcept {
        double_lanes out;
        for (std::size_t k = 0; k < parts; ++k) {
            out.part_v[k] = m.part_v[k] ? a.part_v[k] : b.part_v[k];
        }
        return out;
    }

    double_lanes() = default;
    explicit double_lanes(double x) noexcept {
        for (auto& v : part_v) v = splat<part>(x);
    }
    double operator[](std::size_t j) const noexcept { return part_v[j / per_part][j % per_part]; }
    void set(std::size_t j, double x) noexcept { part_v[j / per_part][j % per_part] = x; }

    /// `f` applied to each register.
    template <class F>
    double_lanes map(F f) const noexcept {
        double_lanes out;
        for (std::size_t k = 0; k < parts; ++k) out.part_v[k] = f(part_v[k]);
        return out;
    }
    template <class F>
    friend double_lanes zip(const double_lanes& a, const double_lanes& b, F f) noexcept {
        double_lanes out;
        for (std::size_t k = 0; k < parts; ++k) out.part_v[k] = f(a.part_v[k], b.part_v[k]);
        return out;
    }

    friend double_lanes operator-(const double_lanes& a) noexcept {
        return a.map([](part v) { return -v; });
    }
    friend double_lanes operator+(const double_lanes& a, const double_lanes& b) noexcept {
        return zip(a, b, [](part x, part y) { return x + y; });
    }
    friend double_lanes operator-(const double_lanes& a, const double_lanes& b) noexcept {
        return zip(a, b, [](part x, part y) { return x - y; });
    }
    friend double_lanes operator*(const double_lanes& a, const double_lanes& b) noexcept {
        return zip(a, b, [](part x, part y) { return x * y; });
    }
    friend double_lanes operator/(const double_lanes& a, const double_lanes& b) noexcept {
        return zip(a, b, [](part x, part y) { return x / y; });
    }
    double_lanes& operator+=(const double_lanes& b) noexcept { return *this = *this + b; }

    // With a double for every lane.
    friend double_lanes operator+(const double_lanes& a, double x) noexcept {
        return a + double_lanes(x);
    }
    friend double_lanes operator-(const double_lanes& a, double x) noexcept {
        return a - double_lanes(x);
    }
    friend double_lanes operator-(double x, const double_lanes& a) noexcept {
        return double_lanes(x) - a;
    }
    friend double_lanes operator*(double x, const double_lanes& a) noexcept {
        return double_lanes(x) * a;
    }
    friend double_lanes operator*(const double_lanes& a, double x) noexcept {
        return a * double_lanes(x);
    }
};

/// One register's worth of lanes converted to the register of doubles `D`. GCC 12 splits
/// the 8-lane conversions of AVX-512 into 4-lane ones (prefer-vector-width=256): the
/// intrinsics give one instruction. (Their zero-masked forms: the plain ones make GCC 12 warn
/// of an uninitialised variable of its own, -Wmaybe-uninitialized.)
template <class D, class V>
D widen_part(V v) noexcept {
#if defined(__AVX512F__)
    if constexpr (sizeof(D) == 64 && std::same_as<lane_t<V>, float>) {
        return std::bit_cast<D>(_mm512_maskz_cvtps_pd(__mmask8(0xff), std::bit_cast<__m256>(v)));
    } else if constexpr (sizeof(D) == 64 && std::same_as<lane_t<V>, std::int32_t>) {
        return std::bit_cast<D>(
            _mm512_maskz_cvtepi32_pd(__mmask8(0xff), std::bit_cast<__m256i>(v)));
    }
#endif
    return __builtin_convertvector(v, D);
}
template <class H, class D>
H narrow_part(D d) noexcept {
#if defined(__AVX512F__)
    if constexpr (sizeof(D) == 64 && std::same_as<lane_t<H>, float>) {
        return std::bit_cast<H>(_mm512_maskz_cvtpd_ps(__mmask8(0xff), std::bit_cast<__m512d>(d)));
    }
#endif
    return __builtin_convertvector(d, H);
}

/// The lanes of `v` (floats, doubles or integers of their size) as doubles.
template <class V>
double_lanes<lanes_of<V>> widen(V v) noexcept {
    using D = double_lanes<lanes_of<V>>;
    D out;
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        ((out.part_v[K] =
              widen_part<typename D::part>(lanes_part<K * D::per_part, D::per_part>(v))),
         ...);
    }(std::make_index_sequence<D::parts>{});
    return out;
}

/// `base[index[j]]` in each lane `j`, as doubles: for lanes of floats, indices of 32 bits.
template <class I>
double_lanes<lanes_of<I>> gather_wide(const double* base, I index) noexcept {
    using D = double_lanes<lanes_of<I>>;
    if constexpr (sizeof(lane_t<I>) == 8) {
        D out;
        out.part_v[0] = gather(base, index);
        return out;
    } else {
        D out;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            ((out.part_v[K] = gather_part<typename D::part>(
                  base, lanes_part<K * D::per_part, D::per_part>(index))),
             ...);
        }(std::make_index_sequence<D::parts>{});
        return out;
    }
}

/// The lanes of `d` as `T` (rounded to nearest).
template <class T, std::size_t N>
vec<T, N> narrow(const double_lanes<N>& d) noexcept {
    using D = double_lanes<N>;
    using half = vec<T, D::per_part>;
    if constexpr (D::parts == 1) {
        return narrow_part<half>(d.part_v[0]);
    } else {
        static_assert(D::parts == 2, "a register of T holds at most twice as many lanes");
        return concat(narrow_part<half>(d.part_v[0]), narrow_part<half>(d.part_v[1]));
    }
}

/// Stores the lanes of `d` as `T` at `p`, one register's worth at a time (no shuffle to
/// assemble a register of `T` first).
template <class T, std::size_t N>
void store_narrow(T* p, const double_lanes<N>& d) noexcept {
    using D = double_lanes<N>;
    for (std::size_t k = 0; k < D::parts; ++k) {
        store(p + k * D::per_part, narrow_part<vec<T, D::per_part>>(d.part_v[k]));
    }
}

/// `log(x) + shift ln 2` for normal `x > 0`, any width, without selects.
///
/// `x = 2^e m` with `m` in [sqrt(1/2), sqrt(2)), found from the bits, and `f = m - 1` exact
/// (Sterbenz). Float: `log(1 + f) = f - f^2/2 + f^3 P(f)`, degree-7 `P` (relative error 6e-9
/// on the range of `f`). Double: `log(1 + f) = 2s + s R(s^2)`, `s = f / (2 + f)`,
/// `R(z) = z P(z)`, degree-6 `P` (relative error 1e-18). `(e + shift) ln 2` is added in two
/// parts, of which `(e + shift) ln2_hi` is exact.
template <class V>
V log_core(V x, V shift) noexcept {
    using T = lane_t<V>;
    using U = like<same_size_uint<T>, V>;
    constexpr bool single = std::same_as<T, float>;
    constexpr int mantissa_bits = single ? 23 : 52;
    constexpr same_size_uint<T> sqrt_half = single ? 0x3f3504f3u : 0x3fe6a09e667f3bcdull;
    constexpr same_size_uint<T> mantissa = (same_size_uint<T>{1} << mantissa_bits) - 1;
    // The exponent biased so that it is >= 0 for every normal x: a logical shift then gives
    // it, and "2^(mantissa bits) + e" as bits is a float of value 2^mantissa_bits + e.
    constexpr same_size_uint<T> bias = same_size_uint<T>{single ? 128u : 1024u} << mantissa_bits;
    const U shifted = std::bit_cast<U>(x) - sqrt_half + bias;
    constexpr same_size_uint<T> big = single ? 0x4b000000u : 0x4330000000000000ull;
    const V e = std::bit_cast<V>((shifted >> mantissa_bits) | big) -
                (T(same_size_uint<T>{1} << mantissa_bits) + T(single ? 128 : 1024)) + shift;
    const V f = std::bit_cast<V>((shifted & mantissa) + sqrt_half) - T(1);
    V log1p_f;
    if constexpr (single) {
        V p = splat<V>(-0x1.38b5832b0847ep-4f);
        p = p * f + 0x1.055b6ade6499ap-3f;
        p = p * f - 0x1.0d85412e239b1p-3f;
        p = p * f + 0x1.22da1ce250444p-3f;
        p = p * f - 0x1.5472449be22aap-3f;
        p = p * f + 0x1.99a00849d8bf1p-3f;
        p = p * f - 0x1.000226fc6068fp-2f;
        p = p * f + 0x1.5555543e0c4d4p-2f;
        log1p_f = f + f * f * (p * f - 0.5f);
        return e * 0x1.62ep-1f + (e * 0x1.0bfbe8p-15f + log1p_f);
    } else {
        const V s = f / (2.0 + f);
        const V z = s * s;
        V p = splat<V>(0x1.2f05636381feep-3);
        p = p * z + 0x1.39a1babb1a6c1p-3;
        p = p * z + 0x1.74663ee8431edp-3;
        p = p * z + 0x1.c71c52095e0b7p-3;
        p = p * z + 0x1.24924941f1239p-2;
        p = p * z + 0x1.999999997fdb8p-2;
        p = p * z + 0x1.5555555555592p-1;
        const V half_f2 = 0.5 * f * f;
        // 2s = f - half_f2 + s half_f2, arranged so that the large terms are exact.
        log1p_f = f - (half_f2 - s * (half_f2 + z * p));
        return e * 0x1.62e42fee00000p-1 + (e * 0x1.a39ef35793c76p-33 + log1p_f);
    }
}

/// @brief Natural logarithm of each lane, for normal `x > 0` (any width).
template <class V>
V simd_log_normal(V x) noexcept {
    return log_core(x, V{});
}

/// @brief Natural logarithm of each lane `x >= 0`: `-inf` at 0, subnormals scaled into the
/// normal range first (exactly). Uses selects: one register wide at most.
template <class V>
V simd_log(V x) noexcept {
    using T = lane_t<V>;
    constexpr T scale = std::same_as<T, float> ? 0x1p24f : 0x1p54;
    constexpr T scale_bits = std::same_as<T, float> ? 24 : 54;
    const auto subnormal = x < std::numeric_limits<T>::min();
    const V scaled = x * select(subnormal, splat<V>(scale), splat<V>(T(1)));
    const V result = log_core(scaled, select(subnormal, splat<V>(-scale_bits), V{}));
    return select(x == T(0), splat<V>(-std::numeric_limits<T>::infinity()), result);
}

/// `e^r` for `|r| <= ln(2)/2` (and a little beyond), any width: `1 + r + r^2 Q(r)` with a
/// degree-4 (float, relative error 3e-9) or degree-8 (double, 3e-16) minimax `Q`.
template <class V>
V exp_reduced(V r) noexcept {
    if constexpr (std::same_as<lane_t<V>, float>) {
        V q = splat<V>(0x1.6a244ccd42decp-10f);
        q = q * r + 0x1.1239d380432c4p-7f;
        q = q * r + 0x1.5558f11fe61eep-5f;
        q = q * r + 0x1.5554916813cfap-3f;
        q = q * r + 0x1.fffffb9b02ee7p-2f;
        return 1.0f + (r + r * r * q);
    } else {
        V q = splat<V>(0x1.2707a5d9e397dp-22);
        q = q * r + 0x1.72e91ae9de113p-19;
        q = q * r + 0x1.a01b7c4f8f9f1p-16;
        q = q * r + 0x1.a0198d5862695p-13;
        q = q * r + 0x1.6c16c0c83140ep-10;
        q = q * r + 0x1.11111125b3e2bp-7;
        q = q * r + 0x1.55555555890c2p-5;
        q = q * r + 0x1.55555555507c5p-3;
        q = q * r + 0x1.ffffffffffed2p-2;
        return 1.0 + (r + r * r * q);
    }
}

/// `x = n ln 2 + r` with `n` the nearest integer and `|r| <= ln(2)/2`: returns `n` as an
/// integer and sets `r`. The nearest integer comes from adding 1.5 * 2^(mantissa bits), whose
/// rounding is to the nearest integer and whose low bits are then `n`; `n ln2_hi` is exact
/// for `|n| < 2^11` (float) or `2^21` (double). Any width.
template <class V>
like<same_size_int<lane_t<V>>, V> reduce_ln2(V x, V& r) noexcept {
    using T = lane_t<V>;
    using I = like<same_size_int<T>, V>;
    constexpr bool single = std::same_as<T, float>;
    constexpr T magic = single ? 0x1.8p23f : 0x1.8p52;
    const V shifted = x * T(single ? 0x1.715476p+0f : 0x1.71547652b82fep+0) + magic;
    const V n = shifted - magic;
    r = (x - n * T(single ? 0x1.62ep-1f : 0x1.62e42fee00000p-1)) -
        n * T(single ? 0x1.0bfbe8p-15f : 0x1.a39ef35793c76p-33);
    return std::bit_cast<I>(shifted) - std::bit_cast<same_size_int<T>>(magic);
}

/// `2^n` for integers `n` in [-2 e_max, e_max] (e_max = 127 or 1023) as two normal factors,
/// so that a product with them rounds once into the subnormals. Any width.
template <class V>
void exp2_factors(like<same_size_int<lane_t<V>>, V> n, V& first, V& second) noexcept {
    using T = lane_t<V>;
    using U = like<same_size_uint<T>, V>;
    constexpr int mantissa_bits = std::same_as<T, float> ? 23 : 52;
    constexpr same_size_int<T> bias = std::same_as<T, float> ? 127 : 1023;
    // n1 = floor(n / 2) + bias by a logical shift of n + 2 bias >= 0 (SSE2 has no arithmetic
    // shift of 64-bit lanes).
    const U n1_biased = std::bit_cast<U>(n + 2 * bias) >> 1;
    first = std::bit_cast<V>(n1_biased << mantissa_bits);
    second = std::bit_cast<V>((std::bit_cast<U>(n + 2 * bias) - n1_biased) << mantissa_bits);
}

/// @brief `e^x` of each lane: 0 below -150 (float) or -1400 (double), `inf` above 88.7 / 709,
/// subnormal results rounded once. Uses selects: one register wide at most.
template <class V>
V simd_exp(V x) noexcept {
    using T = lane_t<V>;
    constexpr T lowest = std::same_as<T, float> ? -150 : -1400;
    constexpr T highest = std::same_as<T, float> ? 88.75 : 709.75;
    const V low = select(x < lowest, splat<V>(lowest), x);
    const V clamped = select(low > highest, splat<V>(highest), low);
    V r;
    const auto n = reduce_ln2(clamped, r);
    V first, second;
    exp2_factors<V>(n, first, second);
    return exp_reduced(r) * first * second;
}

}  // namespace poisson::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
