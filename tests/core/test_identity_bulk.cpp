// The bulk path of straight_through_identity: the layer's results equal sample() (that is,
// sample_poisson) on every element, bit for bit, whatever the rates, the provider and the
// thread count; uniforms at the very edges of the inversion's decisions, where the lanes hand
// over to the scalar loop, give sample_poisson's counts too; and the counts fit the exact
// Poisson pmf, with a test that has the power to see a rate 2% off.
//
// The chi-square tests have fixed seeds and reject at p < 1e-4: a correct sampler fails one
// with probability 1e-4 (12 of them here: at most 0.12% family-wise), and the outcome does not
// change from run to run.

#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "noise_test_support.hpp"
#include "poisson/estimator/straight_through_identity.hpp"
#include "poisson/noise_layer.hpp"
#include "poisson/random/lane_streams.hpp"
#include "support/statistics.hpp"

using namespace poisson;

static_assert(bulk_gradient_estimator<straight_through_identity, float>);
static_assert(bulk_gradient_estimator<straight_through_identity, double>);

namespace {

// Zeros, tiny rates (subnormal floats too), moderate ones, both sides of the PTRS threshold,
// and large ones, mixed so that groups hold both inversion and PTRS lanes.
template <class T>
xt::xarray<T> mixed_rates() {
    std::vector<T> r = {T(0),    T(1e-30), T(1e-38), T(1e-12), T(0.003), T(0.05),
                        T(0.3),  T(0.999), T(1),     T(1.5),   T(2.25),  T(4),
                        T(7.9),  T(9.9),   T(9.999), T(10),    T(10.01), T(12),
                        T(19.5), T(44.4),  T(1000),  T(1e5),   T(1e7),   T(0)};
    if constexpr (sizeof(T) == 4) r.push_back(T(1e-40));  // subnormal
    const std::size_t base = r.size();
    for (std::size_t i = 0; r.size() < 3000; ++i) {
        const T x = r[(i * 7) % base] * T(1 + 0.01 * double(i % 13));
        r.push_back(i % 3 == 0 ? T(0) : x);
    }
    xt::xarray<T> out = xt::xarray<T>::from_shape({r.size()});
    std::copy(r.begin(), r.end(), out.begin());
    return out;
}

template <class T, class Rng>
std::size_t elements_unlike_sample(Rng rng, const philox& reference) {
    noise_layer<straight_through_identity, batch_max, constant_temperature, Rng, T> layer(rng);
    const auto rates = mixed_rates<T>();
    const xt::xarray<T> out = layer.forward(rates);
    const xt::xarray<T> grad = layer.backward(xt::xarray<T>(xt::ones_like(rates)));
    std::size_t differ = 0;
    for (std::size_t i = 0; i < rates.size(); ++i) {
        const auto s = test::sample_element(straight_through_identity{}, rates.data()[i], 0, T(1),
                                            reference, {0, i});
        const auto direct = [&] {
            auto stream = reference.stream({0, i});
            return sample_poisson(rates.data()[i], stream);
        }();
        differ += s.value != out.data()[i] || s.value != direct || grad.data()[i] != T(1);
    }
    return differ;
}

}  // namespace

TEST_CASE_TEMPLATE("identity bulk: the layer equals sample() on every element, bit for bit", T,
                   float, double) {
    CHECK(elements_unlike_sample<T>(philox(31), philox(31)) == 0);
    CHECK(elements_unlike_sample<T>(philox(5, 3), philox(5, 3)) == 0);
}

TEST_CASE("identity bulk: another counter-based provider gets the same results as philox") {
    CHECK(elements_unlike_sample<float>(test::other_counter_provider{}, philox(77, 2)) == 0);
}

TEST_CASE("identity bulk: results do not depend on the thread count") {
    const auto rates = mixed_rates<float>();
    const auto make = [] { return noise_layer<straight_through_identity>{philox(4)}; };
    CHECK(test::forward_on_threads(1, make, rates) == test::forward_on_threads(2, make, rates));
}

namespace {

// A stream whose first uniform is chosen and whose others are 0.5.
struct crafted_stream {
    double first;
    int calls = 0;
    template <class T>
    T next() {
        return T(calls++ == 0 ? first : 0.5);
    }
};

// The bulk path on one element whose stream is `stream`, through lanes that copy it.
double bulk_count(double rate, crafted_stream stream) {
    detail::broadcast_lanes<crafted_stream> lanes(stream);
    noise_sample<double> s{};
    straight_through_identity{}.sample_bulk(
        straight_through_identity{}.bulk_plan(noise_context<double>{}),
        std::span<const double>(&rate, 1), lanes, std::span<noise_sample<double>>(&s, 1));
    return s.value;
}

// The partial sums p_0 + .. + p_x as the scalar loop's decisions see them: its step x decides
// u > p_x on u - p_0 - .. - p_(x-1), so first uniforms a few ulp around these sums put a step
// at the edge of its decision.
std::vector<double> decision_edges(double rate, int steps) {
    std::vector<double> edges;
    double p = std::exp(-rate), sum = 0;
    for (int x = 0; x < steps && sum + p < 1.0; ++x) {
        sum += p;
        edges.push_back(sum);
        p *= rate / double(x + 1);
    }
    return edges;
}

}  // namespace

TEST_CASE("identity bulk: uniforms at the edges of the inversion's decisions") {
    std::size_t checked = 0, differ = 0;
    for (double rate : {1e-9, 0.05, 0.7, 1.0, 2.5, 5.0, 9.9, 9.999}) {
        for (double edge : decision_edges(rate, 12)) {
            double u = edge;
            for (int i = 0; i < 4; ++i) u = std::nextafter(u, 0.0);
            for (int i = 0; i < 9; ++i, u = std::nextafter(u, 1.0)) {
                crafted_stream scalar{u};
                differ += bulk_count(rate, crafted_stream{u}) != sample_poisson(rate, scalar);
                ++checked;
            }
        }
    }
    CHECK(checked > 500);
    CHECK(differ == 0);
}

TEST_CASE("identity bulk: the redraw after the pmf underflows is sample_poisson's") {
    // At rate 9.9 the largest uniform below 1 outlives the pmf: the scalar loop redraws.
    crafted_stream scalar{1.0 - 0x1p-53};
    const double expected = sample_poisson(9.9, scalar);
    REQUIRE(scalar.calls == 2);
    CHECK(bulk_count(9.9, crafted_stream{1.0 - 0x1p-53}) == expected);
    // Uniforms near 1, which run the search far into the tail, at several rates.
    for (double rate : {0.05, 1.0, 5.0, 9.99}) {
        for (double u : {1.0 - 0x1p-53, 1.0 - 0x1p-52, 1.0 - 0x1p-40}) {
            crafted_stream s{u};
            CHECK(bulk_count(rate, crafted_stream{u}) == sample_poisson(rate, s));
        }
    }
}

namespace {

constexpr double reject_below = 1e-4;
constexpr std::size_t samples = 200000;

// Counts of `samples` elements of rate `rate` through the layer's bulk path.
template <class T>
std::vector<T> layer_counts(T rate, std::uint64_t seed) {
    noise_layer<straight_through_identity, batch_max, constant_temperature, philox, T> layer{
        philox(seed)};
    const auto& out = layer.forward(test::filled<T>(samples, rate));
    return std::vector<T>(out.begin(), out.end());
}

// Chi-square test of counts against Poisson(rate) on a window of +-8 sd, tails folded.
template <class T>
double poisson_p_value(const std::vector<T>& counts, double rate) {
    const double spread = 8.0 * std::sqrt(rate) + 10.0;
    const auto first = static_cast<std::size_t>(std::max(0.0, std::floor(rate - spread)));
    const auto last = static_cast<std::size_t>(std::ceil(rate + spread));
    const auto observed = test::count_bins<T>(counts, last, first);
    return test::chi_square_gof(observed, test::poisson_bins(rate, last, first)).p_value;
}

}  // namespace

TEST_CASE_TEMPLATE("identity bulk: counts follow the exact Poisson pmf", T, float, double) {
    std::uint64_t seed = 900;
    for (double rate : {0.05, 1.0, 5.0, 9.9, 10.0, 20.0}) {
        CAPTURE(rate);
        CHECK(poisson_p_value(layer_counts<T>(T(rate), ++seed), rate) > reject_below);
    }
}

TEST_CASE("identity bulk: the test has power against a rate 2% off") {
    std::uint64_t seed = 950;
    for (double rate : {1.0, 5.0, 9.9, 10.0, 20.0}) {
        CAPTURE(rate);
        const auto counts = layer_counts<double>(rate * 1.02, ++seed);
        CHECK(poisson_p_value(counts, rate) < reject_below);
    }
}
