#include <doctest/doctest.h>

#include <cstddef>

#include "poisson/errors.hpp"
#include "poisson/nn/dense.hpp"
#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

namespace {

using poisson::nn::dense;
using poisson::nn::tensor;
using poisson::testing::max_abs;
using poisson::testing::max_abs_diff;
using poisson::testing::random_tensor;
using poisson::testing::tolerance;

}  // namespace

TEST_CASE_TEMPLATE("dense: forward and backward match the loops of the definition", T, float,
                   double) {
    const std::size_t n = 5, in = 7, out = 3;
    const auto x = random_tensor<double>({n, in}, 1);
    const auto w = random_tensor<double>({in, out}, 2);
    const auto b = random_tensor<double>({out}, 3);
    const auto g = random_tensor<double>({n, out}, 4);
    dense<T> layer(in, out);
    layer.weight() = xt::cast<T>(w);
    layer.bias() = xt::cast<T>(b);
    tensor<T> xt_in = xt::cast<T>(x);
    const tensor<T> y = layer.forward(xt_in);
    xt_in.fill(T{100});  // the layer keeps its own copy of the input
    const tensor<T> dx = layer.backward(xt::cast<T>(g));

    tensor<double> ey = xt::zeros<double>({n, out}), edx = xt::zeros<double>({n, in});
    tensor<double> edw = xt::zeros<double>({in, out}), edb = xt::zeros<double>({out});
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t o = 0; o < out; ++o) {
            ey(r, o) = b(o);
            edb(o) += g(r, o);
            for (std::size_t i = 0; i < in; ++i) {
                ey(r, o) += x(r, i) * w(i, o);
                edw(i, o) += x(r, i) * g(r, o);
                edx(r, i) += g(r, o) * w(i, o);
            }
        }
    const double tol = tolerance<T>();
    CHECK(max_abs_diff(y, ey) <= tol * (1 + max_abs(ey)));
    CHECK(max_abs_diff(dx, edx) <= tol * (1 + max_abs(edx)));
    CHECK(max_abs_diff(layer.weight_gradient(), edw) <= tol * (1 + max_abs(edw)));
    CHECK(max_abs_diff(layer.bias_gradient(), edb) <= tol * (1 + max_abs(edb)));
}

TEST_CASE("dense: finite differences agree with backward") {
    dense<double> layer(6, 4);
    layer.weight() = random_tensor<double>({6, 4}, 5);
    layer.bias() = random_tensor<double>({4}, 6);
    const auto report =
        poisson::testing::check_layer_gradients(layer, random_tensor<double>({3, 6}, 7));
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
    CHECK(report.tensors.size() == 3);  // input, weight, bias
}

TEST_CASE("dense: backward overwrites rather than accumulates parameter gradients") {
    dense<double> layer(2, 2);
    const tensor<double> x = {{1.0, 2.0}};
    layer.forward(x);
    layer.backward(tensor<double>{{1.0, 1.0}});
    layer.forward(x);
    layer.backward(tensor<double>{{1.0, 1.0}});
    CHECK(layer.weight_gradient() == tensor<double>{{1.0, 1.0}, {2.0, 2.0}});
    CHECK(layer.bias_gradient() == tensor<double>{1.0, 1.0});
}

TEST_CASE("dense: shape errors name the expected and actual shapes") {
    dense<float> layer(12, 3);
    CHECK_THROWS_WITH_AS(layer.forward(xt::zeros<float>({2, 2, 2, 3})),
                         "dense: input has shape [2, 2, 2, 3], expected [N, 12] (flatten it "
                         "first)",
                         poisson::invalid_argument);
    CHECK_THROWS_WITH_AS(layer.forward(xt::zeros<float>({2, 11})),
                         "dense: input has shape [2, 11], expected [N, 12]",
                         poisson::invalid_argument);
    layer.forward(xt::zeros<float>({2, 12}));
    CHECK_THROWS_AS(layer.backward(xt::zeros<float>({3, 3})), poisson::invalid_argument);
    layer.bias() = xt::zeros<float>({4});
    CHECK_THROWS_WITH_AS(layer.forward(xt::zeros<float>({2, 12})),
                         "dense: weight has shape [12, 3] and bias [4], expected [12, 3] and [3]",
                         poisson::invalid_argument);
    CHECK_THROWS_AS(dense<float>(0, 3), poisson::invalid_argument);
}
