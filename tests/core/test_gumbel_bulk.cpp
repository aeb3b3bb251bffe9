// The bulk path of the Gumbel estimators: the layer's results equal sample() on every element,
// bit for bit, over rates of every kind; and both equal the definitions, computed here
// directly in double from the same uniforms.

#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "noise_test_support.hpp"
#include "poisson/estimator/gumbel_rao.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/k_rule/fixed_k.hpp"
#include "poisson/noise_layer.hpp"

using namespace poisson;

namespace {

// Zeros, tiny rates (subnormal floats too), rates around 1, large ones, and above k.
template <class T>
xt::xarray<T> mixed_rates() {
    std::vector<T> r = {T(0),   T(1e-30), T(1e-38), T(1e-12), T(0.003), T(0.05),
                        T(0.3), T(0.999), T(1),     T(1.5),   T(2.25),  T(4),
                        T(7.9), T(12),    T(19.5),  T(30),    T(44.4),  T(0)};
    if constexpr (sizeof(T) == 4) r.push_back(T(1e-40));  // subnormal
    const std::size_t base = r.size();
    for (std::size_t i = 0; r.size() < 1500; ++i) {
        const T x = r[(i * 7) % base] * T(1 + 0.01 * double(i % 13));
        r.push_back(i % 3 == 0 ? T(0) : x);
    }
    xt::xarray<T> out = xt::xarray<T>::from_shape({r.size()});
    std::copy(r.begin(), r.end(), out.begin());
    return out;
}

template <class E, class T, class KRule>
void check_layer_equals_sample(KRule rule, double tau) {
    noise_layer<E, KRule, constant_temperature, philox, T> layer(philox(31), {}, rule,
                                                                 constant_temperature(tau));
    const auto rates = mixed_rates<T>();
    const xt::xarray<T> out = layer.forward(rates);
    const xt::xarray<T> grad = layer.backward(xt::xarray<T>(xt::ones_like(rates)));
    const std::size_t k = layer.diagnostics().k;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < rates.size(); ++i) {
        const auto s = test::sample_element(E{}, rates.data()[i], k, T(tau), philox(31), {0, i});
        differ += s.value != out.data()[i] || s.derivative != grad.data()[i];
    }
    CHECK(differ == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("gumbel bulk: the layer equals sample() on every element, bit for bit", E,
                   straight_through_gumbel, relaxed_gumbel, gumbel_rao<1>, gumbel_rao<3>) {
    for (double tau : {0.3, 1.0, 2.5, 4.0}) {
        CAPTURE(tau);
        check_layer_equals_sample<E, float>(batch_max(), tau);
        check_layer_equals_sample<E, double>(batch_max(), tau);
        check_layer_equals_sample<E, float>(fixed_k(9), tau);  // rates far above k
        check_layer_equals_sample<E, double>(fixed_k(0), tau);
    }
}

TEST_CASE_TEMPLATE("gumbel bulk: k beyond the shared log-factorial table", T, float, double) {
    // Rates whose windows reach past 4096, where a plan computes log(i!) itself.
    const std::vector<T> values = {T(0), T(0.5), T(3), T(4100), T(4500), T(4999), T(5000.5)};
    xt::xarray<T> rates = xt::xarray<T>::from_shape({70});
    for (std::size_t i = 0; i < rates.size(); ++i) rates.data()[i] = values[i % values.size()];
    noise_options options;
    options.max_k = 10000;
    noise_layer<gumbel_rao<2>, batch_max, constant_temperature, philox, T> layer(philox(8),
                                                                                 options);
    const xt::xarray<T> out = layer.forward(rates);
    const xt::xarray<T> grad = layer.backward(xt::xarray<T>(xt::ones_like(rates)));
    const std::size_t k = layer.diagnostics().k;
    CHECK(k > 5000);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < rates.size(); ++i) {
        const auto s =
            test::sample_element(gumbel_rao<2>{}, rates.data()[i], k, T(1), philox(8), {0, i});
        differ += s.value != out.data()[i] || s.derivative != grad.data()[i];
    }
    CHECK(differ == 0);
}

TEST_CASE("gumbel bulk: results do not depend on the thread count with mixed rates") {
    const auto rates = mixed_rates<float>();
    const auto make = [] {
        return noise_layer<relaxed_gumbel>(philox(4), {}, batch_max(), constant_temperature(0.7));
    };
    CHECK(test::forward_on_threads(1, make, rates) == test::forward_on_threads(2, make, rates));
}

TEST_CASE("gumbel bulk: another counter-based provider gets the same results as philox") {
    const auto rates = mixed_rates<float>();
    noise_layer<gumbel_rao<2>, batch_max, constant_temperature, test::other_counter_provider> a;
    noise_layer<gumbel_rao<2>> b(philox(77, 2));
    CHECK(a.forward(rates) == b.forward(rates));
    const xt::xarray<float> ones = xt::ones_like(rates);
    CHECK(a.backward(ones) == b.backward(ones));
}

namespace {

// The definitions, in double, with lgamma: Gumbel-max over the window (the categories whose
// pmf is at least e^-width min(1, rate) times the mode's), category i taking uniform i, and
// the moments of the softmax weights about the winner. Gumbel-Rao's redraws: T_c from the
// uniform after the window, divided by the window's mass, then T_c + E_i / p_i for the other
// window categories, one uniform each, in order.
struct reference_sample {
    double count, relaxed, derivative;
};

template <class T>
reference_sample reference(double rate, std::size_t k, double tau, philox_stream stream,
                           std::size_t redraws) {
    const auto uniform = [&] { return double(stream.next<T>()); };
    if (rate == 0) {
        double sum = 0;
        const std::size_t draws = std::max<std::size_t>(redraws, 1);
        for (std::size_t d = 0; d < draws && tau == 1 && k > 0; ++d) {
            const double e0 = -std::log(uniform());
            sum += e0 / -std::log(uniform());
        }
        return {0, 0, sum / double(draws)};
    }
    const auto mode = std::min<std::size_t>(static_cast<std::size_t>(rate), k);
    const auto log_p = [&](std::size_t i) {
        return (double(i) - double(mode)) * std::log(rate) -
               (std::lgamma(double(i) + 1) - std::lgamma(double(mode) + 1));
    };
    const double floor = -std::min(20.0 + 21.0 * tau, 700.0) + std::min(0.0, std::log(rate));
    std::size_t lo = mode, hi = mode;
    while (lo > 0 && log_p(lo - 1) >= floor) --lo;
    while (hi < k && log_p(hi + 1) >= floor) ++hi;
    std::vector<double> t(k + 1);
    std::size_t c = lo;
    for (std::size_t i = 0; i <= hi; ++i) {
        const double e = -std::log(uniform());
        if (i < lo) continue;
        t[i] = e / std::exp(log_p(i));
        if (t[i] < t[c]) c = i;
    }
    const auto moments = [&](const std::vector<double>& times, double& mean) {
        double sum = 0, first = 0, second = 0;
        for (std::size_t i = lo; i <= hi; ++i) {
            const double w = std::pow(times[c] / times[i], 1 / tau), d = double(i) - double(c);
            sum += w, first += w * d, second += w * d * d;
        }
        mean = first / sum;
        return std::max(0.0, second / sum - mean * mean);
    };
    double mean = 0;
    double variance = moments(t, mean);
    const double relaxed = double(c) + mean;
    if (redraws > 0) {
        double mass = 0, ignored = 0;
        for (std::size_t i = lo; i <= hi; ++i) mass += std::exp(log_p(i));
        variance = 0;
        for (std::size_t d = 0; d < redraws; ++d) {
            t[c] = -std::log(uniform()) / mass;
            for (std::size_t i = lo; i <= hi; ++i) {
                if (i != c) t[i] = t[c] - std::log(uniform()) / std::exp(log_p(i));
            }
            variance += moments(t, ignored);
        }
        variance /= double(redraws);
    }
    return {double(c), relaxed, variance / (tau * rate)};
}

template <class E, class T = double>
void check_against_reference(std::size_t redraws, double tolerance = 1e-9) {
    const auto rates = mixed_rates<T>();
    for (double tau : {0.5, 1.0, 2.0}) {
        const std::size_t k = batch_max().select_k(44.4 * 1.12);
        std::size_t counts_differ = 0;
        double worst_relaxed = 0, worst_derivative = 0;
        for (std::size_t i = 0; i < rates.size(); ++i) {
            const T rate = rates.data()[i];
            const auto s = test::sample_element(E{}, rate, k, T(tau), philox(5), {0, i});
            const auto r = reference<T>(rate, k, tau, philox(5).stream({0, i}), redraws);
            counts_differ += s.count != r.count;
            worst_relaxed = std::max(worst_relaxed, std::fabs(s.relaxed - r.relaxed));
            // Relative error, but floats underflow below 1e-20 or so (weights of order rate^2
            // at tau = 0.5 for rates of 1e-30), in the library as in any float computation.
            const double scale = std::fabs(r.derivative) + (sizeof(T) == 4 ? 1e-20 : 1e-300);
            worst_derivative =
                std::max(worst_derivative, std::fabs(s.derivative - r.derivative) / scale);
        }
        CAPTURE(tau);
        CAPTURE(worst_relaxed);
        CAPTURE(worst_derivative);
        CHECK(counts_differ == 0);
        CHECK(worst_relaxed < tolerance);
        CHECK(worst_derivative < tolerance);
    }
}

}  // namespace

TEST_CASE("straight_through_gumbel: count, relaxed sample and derivative are the definitions") {
    check_against_reference<straight_through_gumbel>(0);
}

TEST_CASE("gumbel_rao: its redraws use the documented uniforms and give the definitions") {
    check_against_reference<gumbel_rao<3>>(3);
}

TEST_CASE("floats: the definitions to float accuracy") {
    check_against_reference<straight_through_gumbel, float>(0, 1e-3);
    check_against_reference<gumbel_rao<3>, float>(3, 1e-3);
}
