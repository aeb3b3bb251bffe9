// Every library policy satisfies its concept, and so do minimal user-written stand-ins: a
// policy needs only what its concept names.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "noise_test_support.hpp"
#include "poisson/estimator/gumbel_rao.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_identity.hpp"
#include "poisson/k_rule/fixed_k.hpp"
#include "poisson/k_rule/tail_bound.hpp"
#include "poisson/noise_layer.hpp"
#include "poisson/random/std_engine.hpp"
#include "poisson/temperature/exponential.hpp"
#include "poisson/temperature/linear.hpp"

using namespace poisson;

static_assert(gradient_estimator<straight_through_gumbel>);
static_assert(gradient_estimator<relaxed_gumbel>);
static_assert(gradient_estimator<gumbel_rao<1>>);
static_assert(gradient_estimator<straight_through_identity>);
static_assert(rng_provider<philox>);
static_assert(rng_provider<std_engine<>>);
static_assert(rng_provider<std_engine<std::minstd_rand>>);
static_assert(!k_rule<int>);
static_assert(!temperature_schedule<fixed_k>);
static_assert(!gradient_estimator<batch_max>);

namespace {

struct minimal_k_rule {
    std::size_t select_k(double) const { return 9; }
};

struct minimal_schedule {
    double temperature(std::uint64_t step) const { return step % 2 ? 0.5 : 1.0; }
};

// Rounds the rate: a deterministic "estimator" with slope 1.
struct rounding_estimator {
    static constexpr bool truncates = false;
    static constexpr bool unit_derivative = false;
    template <class T, class S>
    noise_sample<T> sample(T rate, const noise_context<T>&, S&) const {
        return {std::round(rate), T(1), std::round(rate), rate};
    }
};

// A counter-based provider that always yields 0.5.
struct half_stream {
    template <class T>
    T next() {
        return T(0.5);
    }
};
struct constant_provider {
    static constexpr bool is_counter_based = true;
    half_stream stream(const stream_key&) const { return {}; }
    std::string state() const { return "constant"; }
    void restore(std::string_view) {}
};

}  // namespace

static_assert(k_rule<minimal_k_rule>);
static_assert(temperature_schedule<minimal_schedule>);
static_assert(gradient_estimator<rounding_estimator>);
static_assert(rng_provider<constant_provider>);

TEST_CASE("policies: user-written stand-ins plug into the layer") {
    noise_layer<straight_through_gumbel, minimal_k_rule, minimal_schedule, philox> layer(philox(1));
    const auto rates = test::filled<float>(100, 30.0f);
    const auto& out = layer.forward(rates);
    CHECK(layer.diagnostics().k == 9);
    CHECK(layer.diagnostics().temperature == 1.0);
    for (float x : out) CHECK(x <= 9.0f);  // rate 30 truncated to 0..9 lands mostly on 9
    layer.forward(rates);
    CHECK(layer.diagnostics().temperature == 0.5);

    noise_layer<rounding_estimator, fixed_k, constant_temperature, constant_provider> rounding(
        constant_provider{});
    const xt::xarray<float> values = {0.4f, 1.6f, 2.5f};
    CHECK(rounding.forward(values) == xt::xarray<float>{0.0f, 2.0f, 3.0f});
}

TEST_CASE("policies: every library policy runs in the layer") {
    const auto rates = test::filled<double>(1000, 2.0);
    noise_layer<relaxed_gumbel, tail_bound, exponential_annealing, std_engine<>, double> a(
        std_engine<>(1), {}, tail_bound(1e-9), exponential_annealing(1.0, 0.5, 0.01, 10));
    CHECK_NOTHROW(a.forward(rates));
    CHECK(a.diagnostics().k == tail_bound(1e-9).select_k(2.0));
    noise_layer<gumbel_rao<2>, fixed_k, linear_annealing, philox, double> b(
        philox(1), {}, fixed_k(12), linear_annealing(2.0, 0.5, 0.1));
    CHECK_NOTHROW(b.forward(rates));
    CHECK(b.diagnostics().temperature == 2.0);
}
