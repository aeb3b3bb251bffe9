#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "poisson/errors.hpp"
#include "poisson/nn/flatten.hpp"
#include "poisson/nn/relu.hpp"
#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

namespace {

using poisson::nn::flatten;
using poisson::nn::relu;
using poisson::nn::tensor;
using poisson::testing::random_tensor;

}  // namespace

TEST_CASE_TEMPLATE("relu: clamps negatives and passes the gradient where positive", T, float,
                   double) {
    relu<T> layer;
    const tensor<T> x = {{-2, 0, 3}, {1.5, -0.25, 4}};
    CHECK(layer.forward(x) == tensor<T>{{0, 0, 3}, {1.5, 0, 4}});
    const tensor<T> g = {{10, 20, 30}, {40, 50, 60}};
    CHECK(layer.backward(g) == tensor<T>{{0, 0, 30}, {40, 0, 60}});
}

TEST_CASE("relu: NaN input stays NaN") {
    relu<float> layer;
    const tensor<float> x = {std::numeric_limits<float>::quiet_NaN(), -1.0f};
    const auto& y = layer.forward(x);
    CHECK(std::isnan(y(0)));
    CHECK(y(1) == 0.0f);
}

TEST_CASE("relu: finite differences agree with backward away from the kink") {
    relu<double> layer;
    auto x = random_tensor<double>({4, 3, 5}, 11);
    // Keep inputs at least 0.01 from 0 so that x +- h never crosses the kink.
    for (auto& v : x) {
        v += (v < 0 ? -0.01 : 0.01);
    }
    const auto report = poisson::testing::check_layer_gradients(layer, x);
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
}

TEST_CASE("relu: backward with a gradient of another shape throws") {
    relu<double> layer;
    layer.forward(xt::zeros<double>({2, 3}));
    CHECK_THROWS_WITH_AS(layer.backward(xt::zeros<double>({3, 2})),
                         "relu: output gradient has shape [3, 2], expected the output shape "
                         "[2, 3]",
                         poisson::invalid_argument);
}

TEST_CASE_TEMPLATE("flatten: keeps the batch axis and restores the shape in backward", T, float,
                   double) {
    flatten<T> layer;
    const auto x = random_tensor<T>({2, 3, 4, 5}, 12);
    const auto& y = layer.forward(x);
    REQUIRE(y.shape() == typename tensor<T>::shape_type{2, 60});
    // Row-major: y[n, (h*4 + w)*5 + c] == x[n, h, w, c].
    CHECK(y(1, (2 * 4 + 3) * 5 + 4) == x(1, 2, 3, 4));
    CHECK(y(0, 7) == x(0, 0, 1, 2));
    const auto g = random_tensor<T>({2, 60}, 13);
    const auto& dx = layer.backward(g);
    REQUIRE(dx.shape() == x.shape());
    CHECK(dx(1, 2, 3, 4) == g(1, (2 * 4 + 3) * 5 + 4));
}

TEST_CASE("flatten: rank-1 input becomes one feature per example; rank 0 throws") {
    flatten<double> layer;
    CHECK(layer.forward(tensor<double>{1, 2, 3}).shape() == tensor<double>::shape_type{3, 1});
    CHECK_THROWS_AS(layer.forward(tensor<double>(2.0)), poisson::invalid_argument);
}

TEST_CASE("flatten: finite differences agree with backward") {
    flatten<double> layer;
    const auto report =
        poisson::testing::check_layer_gradients(layer, random_tensor<double>({2, 3, 2, 2}, 14));
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
}

TEST_CASE("relu: pieces give forward's output; an unkept forward refuses output and backward") {
    relu<float> whole, pieces;
    const auto x = random_tensor<float>({3, 4, 5}, 12);
    const tensor<float> y = whole.forward(x);
    pieces.start_forward(x.shape());
    pieces.forward_part(x.data(), 0, 20);
    pieces.forward_part(x.data() + 20, 20, 40);
    CHECK(pieces.output() == y);
    tensor<float> applied = tensor<float>::from_shape(x.shape());
    relu<float>::apply(x.data(), applied.data(), x.size());
    CHECK(applied == y);

    pieces.start_unkept_forward(x.shape());
    CHECK(pieces.input_gradient_buffer().shape() == x.shape());
    CHECK_THROWS_AS(pieces.output(), poisson::invalid_argument);
    CHECK_THROWS_AS(pieces.backward(y), poisson::invalid_argument);
    pieces.forward(x);  // a kept forward makes both available again
    CHECK(pieces.backward(y) == whole.backward(y));
}
