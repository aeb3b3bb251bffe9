#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include <omp.h>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "noise_test_support.hpp"
#include "poisson/estimator/gumbel_rao.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/estimator/straight_through_identity.hpp"
#include "poisson/k_rule/fixed_k.hpp"
#include "poisson/k_rule/tail_bound.hpp"
#include "poisson/noise_layer.hpp"
#include "poisson/random/std_engine.hpp"

using namespace poisson;

namespace {

template <class Estimator, class T = float>
using layer_with = noise_layer<Estimator, batch_max, constant_temperature, philox, T>;

xt::xarray<float> relu_like_rates() {
    xt::xarray<float> rates = xt::xarray<float>::from_shape({4, 6, 5, 3});
    for (std::size_t i = 0; i < rates.size(); ++i) {
        rates.data()[i] = (i % 2) ? 0.0f : 0.25f * float(i % 37);
    }
    return rates;
}

}  // namespace

TEST_CASE_TEMPLATE("noise_layer: training samples integer counts; evaluation passes rates", E,
                   straight_through_gumbel, gumbel_rao<3>, straight_through_identity) {
    layer_with<E> layer(philox(7));
    const auto rates = relu_like_rates();
    const auto& noisy = layer.forward(rates);
    REQUIRE(noisy.shape() == rates.shape());
    for (std::size_t i = 0; i < rates.size(); ++i) {
        CHECK(noisy.data()[i] == std::round(noisy.data()[i]));
        CHECK(noisy.data()[i] >= 0.0f);
        if (rates.data()[i] == 0.0f) CHECK(noisy.data()[i] == 0.0f);
    }
    CHECK(layer.step() == 1);

    layer.set_training(false);
    CHECK(layer.forward(rates) == rates);
    CHECK(layer.step() == 1);  // evaluation does not advance the training step
    const xt::xarray<float> ones = xt::ones_like(rates);
    CHECK(layer.backward(ones) == ones);
}

TEST_CASE("noise_layer: relaxed_gumbel forwards a real number within [0, k]") {
    layer_with<relaxed_gumbel> layer(philox(3));
    const auto rates = relu_like_rates();
    const auto& soft = layer.forward(rates);
    const double k = double(layer.diagnostics().k);
    bool some_fraction = false;
    for (float x : soft) {
        CHECK(x >= 0.0f);
        CHECK(x <= k);
        some_fraction = some_fraction || x != std::round(x);
    }
    CHECK(some_fraction);
}

TEST_CASE("noise_layer: sample_in_eval samples in evaluation with keys apart from training's") {
    noise_options options;
    options.sample_in_eval = true;
    layer_with<straight_through_gumbel> layer(philox(1), options);
    layer.set_training(false);
    const auto rates = test::filled<float>(1000, 4.0f);
    const xt::xarray<float> first = layer.forward(rates);
    const xt::xarray<float> second = layer.forward(rates);
    CHECK(first != rates);
    CHECK(first != second);  // each evaluation pass draws anew
    CHECK(layer.step() == 0);
    layer.set_training(true);
    CHECK(layer.forward(rates) != first);  // training step 0 is not evaluation pass 0
}

TEST_CASE("noise_layer: backward multiplies by the stored derivative") {
    layer_with<straight_through_gumbel, double> layer(philox(5));
    xt::xarray<double> rates = {{0.5, 2.0, 0.0}, {7.0, 1.0, 3.0}};
    layer.forward(rates);
    const xt::xarray<double> grad = {{1.0, -2.0, 3.0}, {0.5, 1.0, 4.0}};
    const auto& back = layer.backward(grad);
    for (std::size_t i = 0; i < rates.size(); ++i) {
        const auto s = test::sample_element(straight_through_gumbel{}, rates.data()[i],
                                            layer.diagnostics().k, 1.0, philox(5), {0, i});
        CHECK(back.data()[i] == grad.data()[i] * s.derivative);
    }
}

TEST_CASE("noise_layer: the same seed gives bit-identical forward and backward") {
    const auto rates = relu_like_rates();
    layer_with<straight_through_gumbel> a(philox(11)), b(philox(11)), c(philox(12));
    CHECK(a.forward(rates) == b.forward(rates));
    const xt::xarray<float> grad = xt::ones_like(rates);
    CHECK(a.backward(grad) == b.backward(grad));
    CHECK(c.forward(rates) != b.forward(rates));
}

TEST_CASE("noise_layer: a std engine gives the same results for the same seed") {
    noise_layer<straight_through_gumbel, batch_max, constant_temperature, std_engine<>> a(
        std_engine<>(42)),
        b(std_engine<>(42));
    const auto rates = relu_like_rates();
    CHECK(a.forward(rates) == b.forward(rates));
}

TEST_CASE("noise_layer: Philox results do not depend on the thread count or the order") {
    const auto rates = test::filled<float>(50000, 3.5f);
    auto run = [&](int threads) {
        omp_set_num_threads(threads);
        layer_with<gumbel_rao<2>> layer(philox(9));
        xt::xarray<float> out = layer.forward(rates);
        xt::xarray<float> grad = layer.backward(xt::xarray<float>(xt::ones_like(rates)));
        return std::pair{out, grad};
    };
    const auto one = run(1);
    const auto two = run(2);
    omp_set_num_threads(omp_get_num_procs());
    CHECK(one.first == two.first);
    CHECK(one.second == two.second);

    // Any element, computed alone and out of order, equals the layer's.
    for (std::size_t i : {std::size_t(49999), std::size_t(17), std::size_t(0)}) {
        const auto s = test::sample_element(gumbel_rao<2>{}, 3.5f, batch_max().select_k(3.5), 1.0f,
                                            philox(9), {0, i});
        CHECK(s.value == one.first.data()[i]);
        CHECK(s.derivative == one.second.data()[i]);
    }
}

TEST_CASE("noise_layer: accepts expressions and views of any rank") {
    layer_with<straight_through_gumbel, double> layer(philox(2));
    xt::xarray<double> big = xt::ones<double>({3, 4, 5}) * 2.0;
    const auto& out = layer.forward(xt::view(big, 1, xt::all(), xt::range(0, 2)) + 1.0);
    CHECK(out.shape() == std::vector<std::size_t>{4, 2});
    layer.forward(xt::xarray<double>(7.0));  // rank 0
    CHECK(layer.diagnostics().elements == 1);
}

TEST_CASE("noise_layer: a rate of exactly 0 gives 0 and a finite derivative for every tau") {
    for (double tau : {0.25, 0.5, 1.0, 2.0, 5.0}) {
        CAPTURE(tau);
        auto check = [&](auto estimator, bool gumbel) {
            for (std::size_t element = 0; element < 200; ++element) {
                const auto s = test::sample_element(estimator, 0.0, 12, tau, philox(4),
                                                    {0, element});
                CHECK(s.value == 0.0);
                CHECK(std::isfinite(s.derivative));
                // The limits: y_1 ~ rate^(1/tau) for Gumbel, slope 1 for the identity.
                if (gumbel && tau < 1.0) CHECK(s.derivative == 0.0);
                if (!gumbel) CHECK(s.derivative == 1.0);
            }
        };
        check(straight_through_gumbel{}, true);
        check(relaxed_gumbel{}, true);
        check(gumbel_rao<4>{}, true);
        check(straight_through_identity{}, false);
    }
}

TEST_CASE("noise_layer: at tau = 1 the derivative is continuous at rate 0") {
    // Same uniforms: the derivative at a tiny rate tends to the value returned at 0.
    for (std::size_t element = 0; element < 50; ++element) {
        const auto at_zero = test::sample_element(straight_through_gumbel{}, 0.0, 10, 1.0,
                                                  philox(8), {3, element});
        const auto near = test::sample_element(straight_through_gumbel{}, 1e-12, 10, 1.0,
                                               philox(8), {3, element});
        CHECK(near.derivative == doctest::Approx(at_zero.derivative).epsilon(1e-6));
    }
}

TEST_CASE("noise_layer: diagnostics describe the last pass") {
    layer_with<straight_through_gumbel, double> layer(philox(6));
    xt::xarray<double> rates = test::filled<double>(20000, 5.0);
    rates.data()[0] = 0.0;
    layer.forward(rates);
    const auto& d = layer.diagnostics();
    CHECK(d.step == 0);
    CHECK(d.elements == 20000);
    CHECK(d.k == 14);
    CHECK(d.temperature == 1.0);
    CHECK(d.max_rate == 5.0);
    CHECK(d.truncated_mass == doctest::Approx(poisson_upper_tail(14, 5.0)));
    CHECK(d.zero_rate_share == doctest::Approx(1.0 / 20000));
    // P(X = 14 | X <= 14) at rate 5 is 2.2e-4: a few of 20,000 samples.
    CHECK(d.top_category_share < 1e-3);
    double gap = 0;
    for (std::size_t i = 1; i < rates.size(); ++i) {
        const auto s = test::sample_element(straight_through_gumbel{}, 5.0, 14, 1.0, philox(6),
                                            {0, i});
        gap += std::abs(s.count - s.relaxed);
    }
    CHECK(d.mean_relaxation_gap == doctest::Approx(gap / double(rates.size() - 1)));
}

TEST_CASE("noise_layer: invalid rates are refused with the layer, index and value") {
    noise_options options;
    options.name = "conv1";
    layer_with<straight_through_gumbel> layer(philox(1), options);
    xt::xarray<float> rates = test::filled<float>(40, 1.0f);
    rates.data()[17] = -0.5f;
    rates.data()[30] = -2.0f;
    CHECK_THROWS_WITH_AS(layer.forward(rates),
                         "noise_layer \"conv1\": rate at index 17 is -0.5 (rates must be finite "
                         "and >= 0)",
                         invalid_argument);
    rates.data()[17] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(layer.forward(rates), doctest::Contains("rate at index 17 is nan"));
    rates.data()[17] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(layer.forward(rates), doctest::Contains("rate at index 17 is inf"));
    CHECK(layer.step() == 0);  // a refused batch consumes no step

    layer_with<straight_through_identity> identity(philox(1));
    CHECK_THROWS_AS(identity.forward(rates), invalid_argument);
}

TEST_CASE("noise_layer: a rate needing k above max_k is refused, naming the rate") {
    noise_options options;
    options.name = "big";
    options.max_k = 100;
    layer_with<straight_through_gumbel> layer(philox(1), options);
    xt::xarray<float> rates = test::filled<float>(10, 1.0f);
    rates.data()[3] = 500.0f;
    CHECK_THROWS_WITH_AS(layer.forward(rates),
                         "noise_layer \"big\": the largest rate, 500, needs k = 590, above "
                         "max_k = 100",
                         invalid_argument);
    // The identity estimator does not truncate: any finite rate is fine.
    noise_layer<straight_through_identity, batch_max, constant_temperature, philox> exact(
        philox(1), options);
    CHECK_NOTHROW(exact.forward(rates));
}

namespace {
struct broken_schedule {
    double temperature(std::uint64_t step) const { return step < 1 ? 1.0 : -0.5; }
};
}  // namespace

TEST_CASE("noise_layer: a schedule that yields tau <= 0 is refused with the step") {
    noise_layer<straight_through_gumbel, batch_max, broken_schedule, philox> layer(philox(1));
    const auto rates = test::filled<float>(10, 1.0f);
    CHECK_NOTHROW(layer.forward(rates));
    CHECK_THROWS_WITH_AS(layer.forward(rates),
                         "noise_layer \"noise\": temperature at step 1 is -0.5, expected a "
                         "finite tau > 0",
                         invalid_argument);
}

TEST_CASE("noise_layer: backward checks that a forward pass came first, with its shape") {
    layer_with<straight_through_gumbel> layer(philox(1));
    const auto rates = test::filled<float>(10, 1.0f);
    CHECK_THROWS_WITH_AS(layer.backward(rates),
                         "noise_layer \"noise\": backward called before forward",
                         invalid_argument);
    layer.forward(rates);
    CHECK_THROWS_WITH_AS(layer.backward(test::filled<float>(11, 1.0f)),
                         "noise_layer \"noise\": gradient shape [11] differs from the output "
                         "shape [10]",
                         invalid_argument);
}
