// Checks the statistical test helpers against closed forms and published table values.

#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "support/statistics.hpp"

using namespace poisson::test;

namespace {

// e^-x sum_{i<n} x^i / i!, the closed form of Q(n, x) for integer n.
double q_integer(int n, double x) {
    double term = std::exp(-x);
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
        sum += term;
        term *= x / (i + 1);
    }
    return sum;
}

// log sum_{i=k+1}^{k+limit} P(X = i), summed directly in log space.
double log_tail_by_summation(int k, double rate, int limit) {
    double top = -INFINITY;
    std::vector<double> terms;
    for (int i = k + 1; i <= k + limit; ++i) {
        terms.push_back(i * std::log(rate) - rate - std::lgamma(i + 1.0));
        top = std::max(top, terms.back());
    }
    double sum = 0.0;
    for (double t : terms) sum += std::exp(t - top);
    return top + std::log(sum);
}

}  // namespace

TEST_CASE("gamma_q: Q(1, x) is exp(-x)") {
    for (double x : {0.0, 1e-3, 0.1, 1.0, 1.9, 2.1, 5.0, 30.0, 700.0}) {
        CAPTURE(x);
        CHECK(gamma_q(1.0, x) == doctest::Approx(std::exp(-x)).epsilon(1e-13));
    }
}

TEST_CASE("gamma_q: Q(1/2, x) is erfc(sqrt(x))") {
    for (double x : {1e-4, 0.3, 1.0, 1.6, 4.0, 25.0}) {
        CAPTURE(x);
        CHECK(gamma_q(0.5, x) == doctest::Approx(std::erfc(std::sqrt(x))).epsilon(1e-12));
    }
}

TEST_CASE("gamma_q: Q(n, x) is the Poisson sum for integer n, on both sides of x = a + 1") {
    for (int n = 1; n <= 40; ++n) {
        for (double x : {0.5, 3.0, 9.5, 20.0, 41.0}) {
            CAPTURE(n);
            CAPTURE(x);
            CHECK(gamma_q(n, x) == doctest::Approx(q_integer(n, x)).epsilon(1e-11));
            CHECK(std::exp(log_gamma_q(n, x)) == doctest::Approx(q_integer(n, x)).epsilon(1e-11));
            CHECK(std::exp(log_gamma_p(n, x)) ==
                  doctest::Approx(1.0 - q_integer(n, x)).epsilon(1e-9));
        }
    }
}

TEST_CASE("gamma_q: Q(a, a) follows Temme's expansion 1/2 - 1/(3 sqrt(2 pi a)) at large a") {
    // The next term is of order a^(-3/2).
    for (double a : {1e4, 1e6}) {
        const double expected = 0.5 - 1.0 / (3.0 * std::sqrt(2.0 * std::numbers::pi * a));
        CAPTURE(a);
        CHECK(gamma_q(a, a) == doctest::Approx(expected).epsilon(1e-6));
    }
}

TEST_CASE("gamma_q: rejects a <= 0 and x < 0") {
    CHECK_THROWS_AS(gamma_q(0.0, 1.0), poisson::invalid_argument);
    CHECK_THROWS_AS(gamma_q(1.0, -1.0), poisson::invalid_argument);
    CHECK_THROWS_AS(gamma_q(NAN, 1.0), poisson::invalid_argument);
}

TEST_CASE("chi_square_p_value: matches published critical values") {
    CHECK(std::abs(chi_square_p_value(18.307, 10) - 0.05) < 1e-4);
    CHECK(std::abs(chi_square_p_value(3.841, 1) - 0.05) < 1e-4);
    CHECK(std::abs(chi_square_p_value(6.635, 1) - 0.01) < 1e-4);
    CHECK(std::abs(chi_square_p_value(23.209, 10) - 0.01) < 1e-4);
    CHECK(std::abs(chi_square_p_value(124.342, 100) - 0.05) < 1e-4);
    CHECK(std::abs(chi_square_p_value(1074.679, 1000) - 0.05) < 1e-4);
    CHECK(chi_square_p_value(0.0, 3) == 1.0);
}

TEST_CASE("chi_square_p_value: two degrees of freedom give exp(-x / 2)") {
    for (double x : {0.5, 2.0, 13.0, 80.0}) {
        CHECK(chi_square_p_value(x, 2) == doctest::Approx(std::exp(-x / 2)).epsilon(1e-13));
    }
}

TEST_CASE("chi_square_gof: statistic and dof of a hand-worked example") {
    const std::vector<double> observed{10, 20, 30, 40};
    const std::vector<double> p{0.25, 0.25, 0.25, 0.25};
    const auto r = chi_square_gof(observed, p);
    // Expected 25 each: (225 + 25 + 25 + 225) / 25 = 20 on 3 degrees of freedom.
    CHECK(r.statistic == doctest::Approx(20.0));
    CHECK(r.dof == 3);
    CHECK(r.p_value == doctest::Approx(chi_square_p_value(20.0, 3)));
}

TEST_CASE("chi_square_gof: merges bins with expected counts below 5") {
    // n = 100: expected 1, 1, 48, 50. The first three merge into one bin (50 expected).
    const std::vector<double> observed{3, 2, 40, 55};
    const std::vector<double> p{0.01, 0.01, 0.48, 0.50};
    const auto r = chi_square_gof(observed, p);
    CHECK(r.dof == 1);
    CHECK(r.statistic == doctest::Approx((45.0 - 50) * (45 - 50) / 50 + 25.0 / 50));

    // A small last bin joins the one before it: expected 50, 47, 3 -> 50, 50.
    const auto tail =
        chi_square_gof(std::vector<double>{50, 45, 5}, std::vector<double>{0.5, 0.47, 0.03});
    CHECK(tail.dof == 1);
    CHECK(tail.statistic == doctest::Approx(0.0));
}

TEST_CASE("chi_square_gof: a count in a bin of probability 0 is rejected outright") {
    const auto r = chi_square_gof(std::vector<double>{99, 1}, std::vector<double>{1.0, 0.0});
    CHECK(r.p_value == 0.0);
    CHECK(std::isinf(r.statistic));
}

TEST_CASE("chi_square_gof: rejects mismatched sizes and probabilities not summing to 1") {
    CHECK_THROWS_AS(chi_square_gof(std::vector<double>{1, 2}, std::vector<double>{1.0}),
                    poisson::invalid_argument);
    CHECK_THROWS_AS(chi_square_gof(std::vector<double>{1, 2}, std::vector<double>{0.5, 0.4}),
                    poisson::invalid_argument);
}

TEST_CASE("poisson_pmf: closed forms") {
    CHECK(poisson_pmf(0, 3.5) == doctest::Approx(std::exp(-3.5)).epsilon(1e-14));
    CHECK(poisson_pmf(3, 2.0) == doctest::Approx(8.0 * std::exp(-2.0) / 6.0).epsilon(1e-14));
    CHECK(poisson_pmf(0, 0.0) == 1.0);
    CHECK(poisson_pmf(2, 0.0) == 0.0);
    CHECK(poisson_log_pmf(0, 0.0) == 0.0);
    CHECK(std::isinf(poisson_log_pmf(1, 0.0)));
}

TEST_CASE("poisson_upper_tail: agrees with direct summation, far into the tail") {
    CHECK(poisson_upper_tail(0, 2.5) == doctest::Approx(-std::expm1(-2.5)).epsilon(1e-13));
    CHECK(poisson_upper_tail(2, 5.0) ==
          doctest::Approx(1.0 - std::exp(-5.0) * (1 + 5 + 12.5)).epsilon(1e-12));
    CHECK(poisson_upper_tail(-1, 5.0) == 1.0);
    CHECK(poisson_upper_tail(0, 0.0) == 0.0);
    struct tail_case {
        int k;
        double rate;
    };
    for (auto [k, rate] : {tail_case{100, 1.0}, tail_case{40, 5.0}, tail_case{300, 200.0},
                           tail_case{150, 200.0}, tail_case{10500, 1e4}}) {
        CAPTURE(k);
        CAPTURE(rate);
        const double direct = log_tail_by_summation(k, rate, 20000);
        CHECK(poisson_log_upper_tail(k, rate) == doctest::Approx(direct).epsilon(1e-9));
    }
}

TEST_CASE("poisson_bins: pmf bins then the folded tail, summing to 1") {
    for (double rate : {0.05, 1.0, 20.0, 200.0}) {
        const auto p = poisson_bins(rate, 30);
        REQUIRE(p.size() == 31);
        double head = 0.0;
        for (int i = 0; i < 30; ++i) head += p[i];
        CHECK(p[5] == doctest::Approx(poisson_pmf(5, rate)));
        CHECK(p[30] == doctest::Approx(1.0 - head).epsilon(1e-9).scale(1.0));
        CHECK(head + p[30] == doctest::Approx(1.0).epsilon(1e-12));
    }
}

TEST_CASE("poisson_bins: a window folds both tails") {
    const double rate = 50.0;
    const auto p = poisson_bins(rate, 70, 30);
    REQUIRE(p.size() == 41);
    double lower = 0.0;
    for (int i = 0; i <= 30; ++i) lower += poisson_pmf(i, rate);
    CHECK(p.front() == doctest::Approx(lower).epsilon(1e-11));
    CHECK(p[10] == doctest::Approx(poisson_pmf(40, rate)));
    CHECK(p.back() == doctest::Approx(poisson_upper_tail(69, rate)));
    double total = 0.0;
    for (double x : p) total += x;
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
    CHECK_THROWS_AS(poisson_bins(rate, 30, 30), poisson::invalid_argument);
}

TEST_CASE("count_bins: clamps values into the folded end bins") {
    const std::vector<float> samples{0, 2, 3, 3, 4, 9, 100};
    CHECK(count_bins<float>(samples, 5, 2) == std::vector<double>{2, 2, 1, 2});
    CHECK(count_bins<float>(samples, 5) == std::vector<double>{1, 0, 1, 2, 1, 2});
}

TEST_CASE("poisson_truncated_pmf: the pmf on 0..k divided by P(X <= k)") {
    const auto p = poisson_truncated_pmf(5.0, 7);
    REQUIRE(p.size() == 8);
    double norm = 0.0;
    double factorial = 1.0;
    std::vector<double> direct;
    for (int i = 0; i <= 7; ++i) {
        factorial *= i > 0 ? i : 1;
        direct.push_back(std::exp(-5.0) * std::pow(5.0, i) / factorial);
        norm += direct.back();
    }
    for (int i = 0; i <= 7; ++i) CHECK(p[i] == doctest::Approx(direct[i] / norm).epsilon(1e-13));
    const auto zero = poisson_truncated_pmf(0.0, 3);
    CHECK(zero == std::vector<double>{1.0, 0.0, 0.0, 0.0});
}

TEST_CASE("kolmogorov_q: matches published critical values and is continuous at the switch") {
    CHECK(std::abs(kolmogorov_q(1.2238) - 0.10) < 1e-4);
    CHECK(std::abs(kolmogorov_q(1.3581) - 0.05) < 1e-4);
    CHECK(std::abs(kolmogorov_q(1.6276) - 0.01) < 1e-4);
    CHECK(std::abs(kolmogorov_q(0.8276) - 0.50) < 2e-4);
    CHECK(kolmogorov_q(1.18 - 1e-12) == doctest::Approx(kolmogorov_q(1.18)).epsilon(1e-10));
    CHECK(kolmogorov_q(0.0) == 1.0);
}

TEST_CASE("ks_test: statistic of a hand-worked sample") {
    // Against U(0,1): max over points of i/n - x and x - (i-1)/n is 1/3 - 0.1 = 0.2333...
    const auto r = ks_test({0.9, 0.1, 0.5}, [](double x) { return x; });
    CHECK(r.statistic == doctest::Approx(0.7 / 3));
}

TEST_CASE("ks_test: accepts an evenly spread sample and rejects a skewed one") {
    std::vector<double> even, squared;
    const int n = 10000;
    for (int i = 0; i < n; ++i) {
        even.push_back((i + 0.5) / n);
        squared.push_back(even.back() * even.back());
    }
    const auto uniform_cdf = [](double x) { return x; };
    CHECK(ks_test(even, uniform_cdf).statistic == doctest::Approx(0.5 / n));
    CHECK(ks_test(even, uniform_cdf).p_value > 0.999);
    CHECK(ks_test(squared, uniform_cdf).p_value < 1e-10);
}
