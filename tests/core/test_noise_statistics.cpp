// Goodness of fit of every estimator's samples against the exact Poisson pmf.
//
// Each test draws 200,000 samples with a fixed seed and applies a chi-square test; a correct
// sampler fails one of them with probability 1e-4 (the threshold), so the ~25 tests here have
// a false-failure rate below 0.3%, and with fixed seeds the outcome never changes between runs.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "noise_test_support.hpp"
#include "poisson/estimator/gumbel_rao.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/estimator/straight_through_identity.hpp"
#include "poisson/k_rule/fixed_k.hpp"
#include "poisson/noise_layer.hpp"
#include "support/statistics.hpp"

using namespace poisson;

namespace {

constexpr double p_threshold = 1e-4;
constexpr std::size_t samples = 200000;
const double rates[] = {0.05, 1.0, 5.0, 20.0, 200.0};

template <class Estimator, class KRule, class T>
std::vector<T> layer_counts(T rate, KRule rule, std::uint64_t seed) {
    noise_layer<Estimator, KRule, constant_temperature, philox, T> layer(philox(seed), {}, rule);
    const auto& out = layer.forward(test::filled<T>(samples, rate));
    return std::vector<T>(out.begin(), out.end());
}

template <class T>
test::chi_square_result fit_truncated(const std::vector<T>& counts, double rate, std::size_t k) {
    const auto observed = test::count_bins<T>(counts, k);
    return test::chi_square_gof(observed, test::poisson_truncated_pmf(rate, k));
}

template <class T>
test::chi_square_result fit_untruncated(const std::vector<T>& counts, double rate) {
    const auto last = static_cast<std::size_t>(rate + 8.0 * std::sqrt(rate) + 8.0);
    const auto observed = test::count_bins<T>(counts, last);
    return test::chi_square_gof(observed, test::poisson_bins(rate, last));
}

}  // namespace

TEST_CASE_TEMPLATE("straight_through_gumbel: counts follow the truncated Poisson pmf", T, float,
                   double) {
    std::uint64_t seed = 200;
    for (double rate : rates) {
        const std::size_t k = batch_max().select_k(rate);
        const auto counts = layer_counts<straight_through_gumbel>(T(rate), batch_max(), ++seed);
        const auto fit = fit_truncated(counts, rate, k);
        CAPTURE(rate);
        CAPTURE(fit.statistic);
        CHECK(fit.p_value > p_threshold);
    }
}

TEST_CASE("straight_through_gumbel: lambda 5, k 7 is the renormalised truncation, not Poisson") {
    const auto counts = layer_counts<straight_through_gumbel>(5.0, fixed_k(7), 7);
    CHECK(fit_truncated(counts, 5.0, 7).p_value > p_threshold);
    // Power: 13% of the mass is missing, which the untruncated pmf must detect.
    CHECK(fit_untruncated(counts, 5.0).p_value < 1e-12);
}

TEST_CASE("gumbel_rao: the forward pass is straight_through_gumbel's, bit for bit") {
    for (double rate : rates) {
        const auto st = layer_counts<straight_through_gumbel>(rate, batch_max(), 31);
        const auto rao = layer_counts<gumbel_rao<3>>(rate, batch_max(), 31);
        CHECK(st == rao);
        CHECK(fit_truncated(rao, rate, batch_max().select_k(rate)).p_value > p_threshold);
    }
}

TEST_CASE(
    "relaxed_gumbel: hard counts follow the truncated pmf; soft values near them as tau falls") {
    std::uint64_t seed = 300;
    for (double rate : rates) {
        const std::size_t k = batch_max().select_k(rate);
        double previous_gap = INFINITY;
        for (double tau : {1.0, 0.3, 0.1, 0.03}) {
            std::vector<double> counts;
            double gap = 0;
            for (std::size_t i = 0; i < samples / 4; ++i) {
                const auto s = test::sample_element(relaxed_gumbel{}, rate, k, tau, philox(seed),
                                                    {0, i});
                counts.push_back(s.count);
                gap += std::abs(s.value - s.count);
            }
            gap /= double(counts.size());
            CAPTURE(rate);
            CAPTURE(tau);
            CHECK(fit_truncated(counts, rate, k).p_value > p_threshold);
            CHECK(gap < 0.5 * previous_gap);  // the relaxation tightens as tau -> 0
            previous_gap = gap;
        }
        ++seed;
    }
}

TEST_CASE_TEMPLATE("straight_through_identity: counts follow the untruncated Poisson pmf", T,
                   float, double) {
    std::uint64_t seed = 500;
    for (double rate : rates) {
        const auto counts = layer_counts<straight_through_identity>(T(rate), batch_max(), ++seed);
        const auto fit = fit_untruncated(counts, rate);
        CAPTURE(rate);
        CHECK(fit.p_value > p_threshold);
    }
}

TEST_CASE("gumbel-max: raw and renormalised pmf constructions draw bit-identical counts") {
    // Reference Gumbel-max over all of 0..k with lgamma, category i taking uniform i of the
    // element's stream, against the library's exponential race with its pruned window.
    const philox rng(77);
    for (double rate : rates) {
        const std::size_t k = batch_max().select_k(rate);
        std::vector<double> log_p(k + 1);
        double log_z = -INFINITY;
        for (std::size_t i = 0; i <= k; ++i) {
            log_p[i] = double(i) * std::log(rate) - rate - std::lgamma(double(i) + 1.0);
            log_z = std::max(log_z, log_p[i]) +
                    std::log1p(std::exp(-std::abs(log_z - log_p[i])));
        }
        std::size_t mismatches = 0;
        for (std::size_t element = 0; element < 20000; ++element) {
            auto stream = rng.stream({0, element});
            std::size_t raw = 0, normalised = 0;
            double best_raw = -INFINITY, best_normalised = -INFINITY;
            for (std::size_t i = 0; i <= k; ++i) {
                const double g = -std::log(-std::log(stream.next<double>()));
                if (log_p[i] + g > best_raw) best_raw = log_p[i] + g, raw = i;
                if (log_p[i] - log_z + g > best_normalised) {
                    best_normalised = log_p[i] - log_z + g, normalised = i;
                }
            }
            const auto ours = test::sample_element(straight_through_gumbel{}, rate, k, 1.0, rng,
                                                   {0, element});
            mismatches += raw != normalised || double(raw) != ours.count;
        }
        CAPTURE(rate);
        CHECK(mismatches == 0);
    }
}
