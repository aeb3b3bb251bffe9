// The closed-form derivative Var_y(i) / (tau rate) against finite differences of the relaxed
// sample with the uniforms held fixed, and the Gumbel-Rao estimator against Monte Carlo.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "noise_test_support.hpp"
#include "poisson/estimator/gumbel_rao.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/k_rule/batch_max.hpp"
#include "support/statistics.hpp"

using namespace poisson;

TEST_CASE("relaxed_gumbel: the closed-form derivative matches central differences") {
    const philox rng(2024);
    const std::size_t k = 60;
    for (double tau : {0.5, 1.0, 2.0}) {
        for (double rate : {0.3, 1.0, 2.5, 7.0, 30.0}) {
            for (std::size_t element = 0; element < 40; ++element) {
                const stream_key key{5, element};
                const double h = 1e-5 * rate;
                const auto at = test::sample_element(relaxed_gumbel{}, rate, k, tau, rng, key);
                const auto up = test::sample_element(relaxed_gumbel{}, rate + h, k, tau, rng, key);
                const auto down =
                    test::sample_element(relaxed_gumbel{}, rate - h, k, tau, rng, key);
                const double central = (up.value - down.value) / (2.0 * h);
                CAPTURE(tau);
                CAPTURE(rate);
                CAPTURE(element);
                CHECK(at.derivative ==
                      doctest::Approx(central).epsilon(1e-4).scale(1e-3 / (tau * rate)));
            }
        }
    }
}

TEST_CASE("straight_through_gumbel: backward uses the relaxed sample's derivative") {
    const philox rng(5);
    for (std::size_t element = 0; element < 100; ++element) {
        const auto hard = test::sample_element(straight_through_gumbel{}, 4.0, 20, 0.7, rng,
                                               {1, element});
        const auto soft = test::sample_element(relaxed_gumbel{}, 4.0, 20, 0.7, rng, {1, element});
        CHECK(hard.derivative == soft.derivative);
        CHECK(hard.value == soft.count);
        CHECK(hard.relaxed == soft.value);
    }
}

namespace {

struct conditional_moments {
    double sum = 0, sum_sq = 0;
    std::size_t n = 0;
    double mean() const { return sum / double(n); }
    double standard_error() const {
        const double m = mean();
        return std::sqrt(std::max(0.0, sum_sq / double(n) - m * m) / double(n));
    }
};

template <class Estimator>
std::map<int, conditional_moments> derivative_by_count(double rate, double tau, std::size_t n,
                                                       std::uint64_t seed) {
    const std::size_t k = batch_max().select_k(rate);
    std::map<int, conditional_moments> by_count;
    for (std::size_t element = 0; element < n; ++element) {
        const auto s = test::sample_element(Estimator{}, rate, k, tau, philox(seed), {0, element});
        auto& m = by_count[int(s.count)];
        m.sum += s.derivative;
        m.sum_sq += s.derivative * s.derivative;
        ++m.n;
    }
    return by_count;
}

std::vector<double> derivatives(auto estimator, double rate, double tau, std::size_t n,
                                std::uint64_t seed) {
    std::vector<double> out;
    for (std::size_t element = 0; element < n; ++element) {
        out.push_back(test::sample_element(estimator, rate, batch_max().select_k(rate), tau,
                                           philox(seed), {0, element})
                          .derivative);
    }
    return out;
}

// Two-sample Kolmogorov-Smirnov p-value (asymptotic).
double two_sample_ks(std::vector<double> a, std::vector<double> b) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::size_t i = 0, j = 0;
    double d = 0;
    while (i < a.size() && j < b.size()) {
        const double x = std::min(a[i], b[j]);
        while (i < a.size() && a[i] == x) ++i;
        while (j < b.size() && b[j] == x) ++j;
        d = std::max(d, std::abs(double(i) / double(a.size()) - double(j) / double(b.size())));
    }
    const double n = double(a.size()) * double(b.size()) / double(a.size() + b.size());
    return test::kolmogorov_q(std::sqrt(n) * d);
}

}  // namespace

TEST_CASE("gumbel_rao: its mean given the count equals straight-through's (Monte Carlo)") {
    for (double tau : {0.5, 1.0}) {
        const auto st = derivative_by_count<straight_through_gumbel>(3.0, tau, 200000, 1);
        const auto rao = derivative_by_count<gumbel_rao<8>>(3.0, tau, 200000, 2);
        for (int count = 1; count <= 5; ++count) {
            const auto& a = st.at(count);
            const auto& b = rao.at(count);
            const double z = (a.mean() - b.mean()) /
                             std::hypot(a.standard_error(), b.standard_error());
            CAPTURE(tau);
            CAPTURE(count);
            CAPTURE(a.mean());
            CAPTURE(b.mean());
            CHECK(std::abs(z) < 4.5);  // two-sided false-failure rate 7e-6 per check
            // Averaging 8 draws lowers the spread of the estimate.
            CHECK(b.standard_error() < a.standard_error());
        }
    }
}

TEST_CASE("gumbel_rao<1>: its derivatives have straight-through's distribution") {
    for (double rate : {0.5, 3.0, 20.0}) {
        const auto st = derivatives(straight_through_gumbel{}, rate, 1.0, 50000, 11);
        const auto rao = derivatives(gumbel_rao<1>{}, rate, 1.0, 50000, 12);
        CAPTURE(rate);
        CHECK(two_sample_ks(st, rao) > 1e-4);
    }
    // Power: at another rate the distribution differs and the test sees it.
    const auto st = derivatives(straight_through_gumbel{}, 3.0, 1.0, 50000, 11);
    const auto other = derivatives(gumbel_rao<1>{}, 3.3, 1.0, 50000, 12);
    CHECK(two_sample_ks(st, other) < 1e-4);
}
