#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "poisson/errors.hpp"
#include "poisson/nn/init.hpp"

// Hypothesis tests with fixed seeds. Moment checks use 5-sigma bands and the
// Kolmogorov-Smirnov checks the 0.1% critical value 1.949 / sqrt(n): for a random seed a
// correct sampler would fail each band with probability about 6e-7, each KS test 1e-3.

namespace {

namespace init = poisson::nn::init;
using poisson::nn::tensor;

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

struct moments {
    double mean, variance;
};

template <class T>
moments sample_moments(const tensor<T>& t) {
    double sum = 0, sq = 0;
    for (const T v : t) {
        sum += v;
        sq += double(v) * double(v);
    }
    const double n = double(t.size());
    return {sum / n, sq / n - (sum / n) * (sum / n)};
}

// The Kolmogorov-Smirnov distance between the sample and the CDF `cdf`.
template <class T, class Cdf>
double ks_distance(const tensor<T>& t, Cdf cdf) {
    std::vector<double> v(t.begin(), t.end());
    std::sort(v.begin(), v.end());
    const double n = double(v.size());
    double d = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double f = cdf(v[i]);
        d = std::max({d, f - double(i) / n, double(i + 1) / n - f});
    }
    return d;
}

constexpr std::size_t n = 100000;
const double ks_critical = 1.949 / std::sqrt(double(n));

}  // namespace

TEST_CASE("init: the polar method gives standard normals") {
    std::mt19937_64 engine(1);
    tensor<double> z = tensor<double>::from_shape({n});
    for (std::size_t i = 0; i < n; i += 2) {
        const auto [a, b] = init::standard_normal_pair(engine);
        z(i) = a;
        z(i + 1) = b;
    }
    const auto m = sample_moments(z);
    CHECK(std::abs(m.mean) < 5 / std::sqrt(double(n)));
    CHECK(std::abs(m.variance - 1) < 5 * std::sqrt(2.0 / n));
    CHECK(ks_distance(z, normal_cdf) < ks_critical);
}

TEST_CASE_TEMPLATE("init: truncated normal stays within 2 sigma with the truncated moments", T,
                   float, double) {
    const double sigma = 0.1;
    std::mt19937_64 engine(2);
    tensor<T> w = tensor<T>::from_shape({n});
    init::truncated_normal(w, engine, sigma);
    CHECK(*std::max_element(w.begin(), w.end()) <= T(2 * sigma));
    CHECK(*std::min_element(w.begin(), w.end()) >= T(-2 * sigma));
    // Var of a normal truncated at +-a sigma: sigma^2 (1 - 2 a phi(a) / (2 Phi(a) - 1)).
    const double a = 2.0, phi = std::exp(-a * a / 2) / std::sqrt(2 * std::numbers::pi);
    const double mass = 2 * normal_cdf(a) - 1;
    const double variance = sigma * sigma * (1 - 2 * a * phi / mass);
    const auto m = sample_moments(w);
    CHECK(std::abs(m.mean) < 5 * std::sqrt(variance / n));
    // Truncation lowers the kurtosis below 3, so sqrt(2/n) bounds the relative spread.
    CHECK(std::abs(m.variance / variance - 1) < 5 * std::sqrt(2.0 / n));
    const auto cdf = [&](double x) {
        return (normal_cdf(x / sigma) - normal_cdf(-a)) / mass;
    };
    CHECK(ks_distance(w, cdf) < ks_critical);
}

TEST_CASE("init: He normal has standard deviation sqrt(2 / fan_in)") {
    std::mt19937_64 engine(3);
    tensor<float> w = tensor<float>::from_shape({5, 5, 32, 125});  // fan_in 800, 100,000 values
    init::he_normal(w, engine);
    const double sigma = std::sqrt(2.0 / 800);
    const auto m = sample_moments(w);
    CHECK(std::abs(m.mean) < 5 * sigma / std::sqrt(double(n)));
    CHECK(std::abs(m.variance / (sigma * sigma) - 1) < 5 * std::sqrt(2.0 / n));
    CHECK(ks_distance(w, [&](double x) { return normal_cdf(x / sigma); }) < ks_critical);
}

TEST_CASE("init: Glorot uniform lies in (-a, a), a = sqrt(6 / (fan_in + fan_out))") {
    std::mt19937_64 engine(4);
    tensor<double> w = tensor<double>::from_shape({250, 400});
    init::glorot_uniform(w, engine);
    const double a = std::sqrt(6.0 / 650);
    CHECK(*std::max_element(w.begin(), w.end()) < a);
    CHECK(*std::min_element(w.begin(), w.end()) > -a);
    const auto m = sample_moments(w);
    const double variance = a * a / 3;
    CHECK(std::abs(m.mean) < 5 * std::sqrt(variance / n));
    // Uniform: Var of the sample variance is (mu4 - sigma^4) / n = 0.8 sigma^4 / n.
    CHECK(std::abs(m.variance / variance - 1) < 5 * std::sqrt(0.8 / n));
    const auto cdf = [&](double x) { return std::clamp((x + a) / (2 * a), 0.0, 1.0); };
    CHECK(ks_distance(w, cdf) < ks_critical);
}

TEST_CASE("init: constant fills every value; fans follow the weight layout") {
    tensor<float> b = tensor<float>::from_shape({7});
    init::constant(b);
    CHECK(b == xt::ones<float>({7}) * 0.1f);
    const auto dense = init::compute_fans(tensor<float>::shape_type{3136, 1024});
    CHECK(dense.in == 3136);
    CHECK(dense.out == 1024);
    const auto conv = init::compute_fans(tensor<float>::shape_type{5, 5, 32, 64});
    CHECK(conv.in == 800);
    CHECK(conv.out == 1600);
    CHECK_THROWS_AS(init::compute_fans(tensor<float>::shape_type{10}), poisson::invalid_argument);
    std::mt19937_64 engine(5);
    CHECK_THROWS_AS(init::truncated_normal(b, engine, -1.0), poisson::invalid_argument);
}

TEST_CASE("init: the same seed gives the same weights, another seed different ones") {
    tensor<double> a = tensor<double>::from_shape({64}), b = a, c = a;
    std::mt19937_64 e1(9), e2(9), e3(10);
    init::truncated_normal(a, e1);
    init::truncated_normal(b, e2);
    init::truncated_normal(c, e3);
    CHECK(a == b);
    CHECK(a != c);
}
