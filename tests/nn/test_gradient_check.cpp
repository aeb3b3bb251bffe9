#include <doctest/doctest.h>

#include <cmath>
#include <string_view>

#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

// The checker itself: it must pass a right gradient and catch wrong ones.

namespace {

using poisson::nn::tensor;
using poisson::testing::check_layer_gradients;
using poisson::testing::gradient_check_options;
using poisson::testing::random_tensor;

// y = w * x^2 element-wise with a scalar parameter w; `bug` selects a deliberate error.
struct square_layer {
    using value_type = double;
    enum class bug { none, input, parameter, shape };
    bug mistake = bug::none;
    tensor<double> w = {1.5};
    tensor<double> w_grad = {0.0};
    tensor<double> x, y, dx;

    const tensor<double>& forward(const tensor<double>& in) {
        x = in;
        y = w(0) * in * in;
        return y;
    }
    const tensor<double>& backward(const tensor<double>& g) {
        dx = 2.0 * w(0) * x * g * (mistake == bug::input ? 1.01 : 1.0);
        w_grad(0) = xt::sum(g * x * x)() * (mistake == bug::parameter ? 0.5 : 1.0);
        if (mistake == bug::shape) {
            dx = tensor<double>::from_shape({0});
        }
        return dx;
    }
    template <class Visit>
    void for_each_parameter(Visit&& visit) {
        visit("w", w, w_grad);
    }
};

}  // namespace

TEST_CASE("gradient_check: a right gradient passes, input and parameter both checked") {
    square_layer layer;
    const auto report = check_layer_gradients(layer, random_tensor<double>({4, 5}, 1));
    REQUIRE(report.tensors.size() == 2);
    CHECK(report.tensors[0].name == "input");
    CHECK(report.tensors[0].checked == 20);
    CHECK(report.tensors[1].name == "w");
    CHECK(report.worst_error() < 1e-8);
}

TEST_CASE("gradient_check: wrong input or parameter gradients are reported") {
    square_layer layer;
    layer.mistake = square_layer::bug::input;
    auto report = check_layer_gradients(layer, random_tensor<double>({3, 3}, 2));
    CHECK(report.tensors[0].worst_error == doctest::Approx(0.01 / 1.01).epsilon(1e-4));
    CHECK(report.tensors[1].worst_error < 1e-8);

    layer.mistake = square_layer::bug::parameter;
    report = check_layer_gradients(layer, random_tensor<double>({3, 3}, 2));
    CHECK(report.tensors[0].worst_error < 1e-8);
    CHECK(report.tensors[1].worst_error == doctest::Approx(0.5).epsilon(1e-4));
}

TEST_CASE("gradient_check: a wrongly shaped input gradient fails unless skipped") {
    square_layer layer;
    layer.mistake = square_layer::bug::shape;
    CHECK(std::isinf(check_layer_gradients(layer, random_tensor<double>({2, 2}, 3)).worst_error()));
    gradient_check_options options;
    options.check_input = false;
    const auto report = check_layer_gradients(layer, random_tensor<double>({2, 2}, 3), options);
    REQUIRE(report.tensors.size() == 1);
    CHECK(report.worst_error() < 1e-8);
}

TEST_CASE("gradient_check: max_entries checks an evenly spaced subset; the hook runs") {
    square_layer layer;
    int forwards = 0;
    gradient_check_options options;
    options.max_entries = 7;
    options.before_forward = [&] { ++forwards; };
    const auto report = check_layer_gradients(layer, random_tensor<double>({10, 10}, 4), options);
    CHECK(report.tensors[0].checked == 7);
    CHECK(report.tensors[1].checked == 1);
    CHECK(forwards == 1 + 2 * (7 + 1));  // the analytic pass, then two per checked entry
}
