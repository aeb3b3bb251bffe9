#include <doctest/doctest.h>

#include <cmath>

#include "poisson/k_rule/batch_max.hpp"
#include "poisson/k_rule/concepts.hpp"
#include "poisson/k_rule/fixed_k.hpp"
#include "poisson/k_rule/tail_bound.hpp"
#include "poisson/math/log_factorial.hpp"
#include "poisson/math/poisson_pmf.hpp"

namespace {

// P(X > k; rate) summed from 0 upward in long double: a reference independent of the
// library's tail-first summation.
long double reference_upper_tail(std::size_t k, double rate) {
    long double term = std::exp(-static_cast<long double>(rate));
    long double cdf = term;
    for (std::size_t i = 1; i <= k; ++i) {
        term *= static_cast<long double>(rate) / static_cast<long double>(i);
        cdf += term;
    }
    return 1.0L - cdf;
}

}  // namespace

static_assert(poisson::k_rule<poisson::fixed_k>);
static_assert(poisson::k_rule<poisson::batch_max>);
static_assert(poisson::k_rule<poisson::tail_bound>);

TEST_CASE("fixed_k: ignores the rates") {
    const poisson::fixed_k rule(7);
    CHECK(rule.select_k(0.0) == 7);
    CHECK(rule.select_k(500.0) == 7);
}

TEST_CASE("batch_max: k = ceil(m + c sqrt(m))") {
    const poisson::batch_max report;  // c = 4
    CHECK(report.select_k(0.0) == 0);
    CHECK(report.select_k(1.0) == 5);
    CHECK(report.select_k(5.0) == 14);      // 5 + 4 * 2.236 = 13.94
    CHECK(report.select_k(100.0) == 140);   // exact: no rounding up of an integer
    CHECK(poisson::batch_max(2.0).select_k(9.0) == 15);
}

TEST_CASE("batch_max: refuses a negative or non-finite c") {
    CHECK_THROWS_WITH_AS(poisson::batch_max(-1.0),
                         "batch_max: c is -1, expected a finite value >= 0",
                         poisson::invalid_argument);
    CHECK_THROWS_AS(poisson::batch_max{NAN}, poisson::invalid_argument);
}

TEST_CASE("poisson_upper_tail: matches a direct sum, including the report's lambda 5, k 7") {
    CHECK(poisson::poisson_upper_tail(7, 5.0) == doctest::Approx(0.133372).epsilon(1e-5));
    for (double rate : {0.05, 1.0, 5.0, 20.0, 200.0}) {
        for (std::size_t k : {std::size_t(0), std::size_t(3), std::size_t(rate),
                              std::size_t(rate + 3 * std::sqrt(rate))}) {
            const double expected = double(reference_upper_tail(k, rate));
            CHECK(poisson::poisson_upper_tail(k, rate) ==
                  doctest::Approx(expected).epsilon(1e-9));
        }
    }
    CHECK(poisson::poisson_upper_tail(5, 0.0) == 0.0);
}

TEST_CASE("tail_bound: the smallest k whose tail is at most eps") {
    for (double eps : {1e-2, 1e-6, 1e-12}) {
        const poisson::tail_bound rule(eps);
        for (double rate : {0.05, 1.0, 5.0, 20.0, 200.0, 3000.0}) {
            const std::size_t k = rule.select_k(rate);
            CAPTURE(rate);
            CAPTURE(eps);
            CHECK(poisson::poisson_upper_tail(k, rate) <= eps);
            REQUIRE(k > 0);
            CHECK(poisson::poisson_upper_tail(k - 1, rate) > eps);
        }
    }
    CHECK(poisson::tail_bound(1e-6).select_k(0.0) == 0);
}

TEST_CASE("tail_bound: eps must lie in (0, 1)") {
    for (double eps : {0.0, 1.0, -0.5, 2.0, double(NAN)}) {
        CHECK_THROWS_AS(poisson::tail_bound{eps}, poisson::invalid_argument);
    }
    CHECK_THROWS_WITH(poisson::tail_bound(1.5), "tail_bound: eps is 1.5, expected 0 < eps < 1");
}

TEST_CASE("log_factorial: agrees with lgamma(k + 1) to 1e-13 relative") {
    for (int k = 0; k <= 5000; k += (k < 40 ? 1 : 37)) {
        const double expected = std::lgamma(double(k) + 1.0);
        CAPTURE(k);
        CHECK(poisson::log_factorial(double(k)) ==
              doctest::Approx(expected).epsilon(1e-13).scale(1.0));
    }
}
