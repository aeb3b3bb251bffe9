// Statistical tests of sample_poisson against the exact Poisson distribution.
//
// Every chi-square test below has a fixed seed and rejects at p < 1e-4, so a correct sampler
// fails any one of them with probability 1e-4 (34 of them here: at most 0.34% family-wise);
// the 66 mean and variance checks add at most 66 * 7e-6 = 0.05%. The seeds are fixed, so the
// outcome does not change from run to run: a new failure means the sampler or the stream
// changed, and deserves a look rather than a re-roll.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "poisson/random/philox.hpp"
#include "poisson/random/poisson_sampler.hpp"
#include "poisson/random/std_engine.hpp"
#include "support/statistics.hpp"

using poisson::sample_poisson;

namespace {

constexpr double reject_below = 1e-4;
constexpr std::size_t samples_per_rate = 1'000'000;

// Draws n counts the way a noise layer does: one philox stream per element.
template <class T>
std::vector<T> draw_philox(T rate, std::size_t n, std::uint64_t seed) {
    const poisson::philox provider(seed, 1);
    std::vector<T> out(n);
    for (std::size_t e = 0; e < n; ++e) {
        auto s = provider.stream({.step = 3, .element = e});
        out[e] = sample_poisson(rate, s);
    }
    return out;
}

// Draws n counts from one sequential std_engine stream.
template <class T>
std::vector<T> draw_std_engine(T rate, std::size_t n, std::uint64_t seed) {
    poisson::std_engine<> provider(seed);
    auto s = provider.stream({});
    std::vector<T> out(n);
    for (auto& x : out) x = sample_poisson(rate, s);
    return out;
}

// Chi-square test of samples against Poisson(rate) on a window of +-8 sd, tails folded.
template <class T>
poisson::test::chi_square_result poisson_fit(const std::vector<T>& samples, double rate) {
    const double spread = 8.0 * std::sqrt(rate) + 10.0;
    const auto first = static_cast<std::size_t>(std::max(0.0, std::floor(rate - spread)));
    const auto last = static_cast<std::size_t>(std::ceil(rate + spread));
    const auto counts = poisson::test::count_bins<T>(samples, last, first);
    return poisson::test::chi_square_gof(counts, poisson::test::poisson_bins(rate, last, first));
}

// Sample mean and variance within 4.5 standard errors of rate (two-sided, 7e-6 each).
template <class T>
void check_moments(const std::vector<T>& samples, double rate) {
    const double n = static_cast<double>(samples.size());
    double sum = 0.0;
    for (T x : samples) sum += static_cast<double>(x);
    const double mean = sum / n;
    double squares = 0.0;
    for (T x : samples)
        squares += (static_cast<double>(x) - mean) * (static_cast<double>(x) - mean);
    const double variance = squares / (n - 1.0);
    // Var(mean) = rate / n; Var(sample variance) ~ (mu_4 - sigma^4) / n = (rate + 2 rate^2) / n.
    CHECK(std::abs(mean - rate) <= 4.5 * std::sqrt(rate / n));
    CHECK(std::abs(variance - rate) <= 4.5 * std::sqrt((rate + 2.0 * rate * rate) / n));
}

// Different seeds for float and double, so the two runs are independent tests.
template <class T>
constexpr std::uint64_t seed_for = sizeof(T) == 4 ? 0x5eed0f10a7ULL : 0x5eedd0b1eULL;

constexpr double test_rates[] = {0.05, 1.0, 5.0, 9.99, 10.0, 20.0, 200.0, 1e4};

}  // namespace

TEST_CASE_TEMPLATE("sample_poisson: fits the exact pmf with philox streams", T, float, double) {
    for (double rate : test_rates) {
        CAPTURE(rate);
        const auto samples = draw_philox<T>(static_cast<T>(rate), samples_per_rate, seed_for<T>);
        const auto fit = poisson_fit(samples, static_cast<T>(rate));
        CAPTURE(fit.statistic);
        CAPTURE(fit.dof);
        CHECK(fit.p_value > reject_below);
        check_moments(samples, static_cast<T>(rate));
    }
}

TEST_CASE_TEMPLATE("sample_poisson: fits the exact pmf with a std_engine stream", T, float,
                   double) {
    for (double rate : test_rates) {
        CAPTURE(rate);
        const auto samples =
            draw_std_engine<T>(static_cast<T>(rate), samples_per_rate, seed_for<T>);
        const auto fit = poisson_fit(samples, static_cast<T>(rate));
        CAPTURE(fit.statistic);
        CAPTURE(fit.dof);
        CHECK(fit.p_value > reject_below);
        check_moments(samples, static_cast<T>(rate));
    }
}

TEST_CASE("sample_poisson: fits the exact pmf at rate 1e7, where lgamma precision matters") {
    const auto samples = draw_philox<double>(1e7, 100'000, 77);
    const auto fit = poisson_fit(samples, 1e7);
    CAPTURE(fit.statistic);
    CHECK(fit.p_value > reject_below);
    check_moments(samples, 1e7);
}

TEST_CASE("sample_poisson: the test has power against a rate 2% too high at rate 200") {
    const auto samples = draw_philox<double>(200.0 * 1.02, samples_per_rate, 11);
    CHECK(poisson_fit(samples, 200.0).p_value < reject_below);
}

TEST_CASE("sample_poisson: the test has power against Poisson(5) truncated to 0..7") {
    // Poisson(5) conditioned on X <= 7 by rejection, i.e. P(X = i) / P(X <= 7) on 0..7.
    const poisson::philox provider(12);
    std::vector<double> samples;
    for (std::size_t e = 0; samples.size() < samples_per_rate; ++e) {
        auto s = provider.stream({0, e});
        const double x = sample_poisson(5.0, s);
        if (x <= 7.0) samples.push_back(x);
    }
    CHECK(poisson_fit(samples, 5.0).p_value < reject_below);
    // The same samples do fit the truncated, renormalised pmf.
    const auto counts = poisson::test::count_bins<double>(samples, 7);
    auto truncated = poisson::test::poisson_truncated_pmf(5.0, 7);
    CHECK(poisson::test::chi_square_gof(counts, truncated).p_value > reject_below);
}

TEST_CASE("log_factorial: matches exact products and lgamma, on both sides of the switch") {
    double log_product = 0.0;
    for (int k = 0; k <= 170; ++k) {
        log_product += k > 0 ? std::log(static_cast<double>(k)) : 0.0;
        CAPTURE(k);
        CHECK(poisson::log_factorial(k) == doctest::Approx(log_product).epsilon(1e-14));
    }
    for (double k : {1e3, 12345.0, 1e6, 1e7, 1e9}) {
        CAPTURE(k);
        CHECK(poisson::log_factorial(k) ==
              doctest::Approx(std::lgamma(k + 1.0)).epsilon(1e-15));
    }
}

TEST_CASE_TEMPLATE("sample_poisson: rate 0 gives 0 and draws no uniform", T, float, double) {
    const poisson::philox provider(5);
    auto used = provider.stream({0, 0});
    CHECK(sample_poisson(T(0), used) == T(0));
    CHECK(used.next<double>() == provider.stream({0, 0}).next<double>());
}

TEST_CASE_TEMPLATE("sample_poisson: float and double give the same counts from equal streams", T,
                   float, double) {
    const poisson::philox provider(99);
    for (double rate : {0.3, 7.0, 9.99, 10.0, 150.0, 3e5}) {
        for (std::size_t e = 0; e < 2000; ++e) {
            auto a = provider.stream({0, e});
            auto b = provider.stream({0, e});
            REQUIRE(static_cast<double>(sample_poisson(static_cast<T>(rate), a)) ==
                    sample_poisson(static_cast<double>(static_cast<T>(rate)), b));
        }
    }
}

TEST_CASE_TEMPLATE("sample_poisson: rejects negative, NaN and infinite rates", T, float, double) {
    auto s = poisson::philox(1).stream({0, 0});
    CHECK_THROWS_AS(sample_poisson(T(-0.5), s), poisson::invalid_argument);
    CHECK_THROWS_AS(sample_poisson(std::numeric_limits<T>::quiet_NaN(), s),
                    poisson::invalid_argument);
    CHECK_THROWS_AS(sample_poisson(std::numeric_limits<T>::infinity(), s),
                    poisson::invalid_argument);
    CHECK_THROWS_WITH(sample_poisson(T(-0.5), s),
                      "sample_poisson: rate -0.500000 is not finite and >= 0");
}
