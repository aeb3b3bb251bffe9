#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "poisson/errors.hpp"
#include "poisson/nn/dense.hpp"
#include "poisson/nn/relu.hpp"
#include "poisson/nn/sequential.hpp"
#include "poisson/nn/sgd_momentum.hpp"

namespace {

using poisson::nn::sgd_momentum;
using poisson::nn::sgd_momentum_config;
using poisson::nn::tensor;

// A model with two parameters whose gradients the test sets directly.
template <class T>
struct toy_model {
    using value_type = T;
    tensor<T> a = {1.0, -2.0};
    tensor<T> a_grad = {0.0, 0.0};
    tensor<T> b = {{0.5, 0.25}};
    tensor<T> b_grad = {{0.0, 0.0}};

    template <class Visit>
    void for_each_parameter(Visit&& visit) {
        visit("a", a, a_grad);
        visit("b", b, b_grad);
    }
};

}  // namespace

TEST_CASE_TEMPLATE("sgd_momentum: follows v = gamma v + eta g, theta -= v", T, float, double) {
    toy_model<T> model;
    sgd_momentum<T> opt({.learning_rate = 0.5, .momentum = 0.9});
    model.a_grad = {2.0, 4.0};
    opt.step(model);  // v = 0.5 * g = (1, 2)
    CHECK(model.a(0) == doctest::Approx(0.0));
    CHECK(model.a(1) == doctest::Approx(-4.0));
    model.a_grad = {-2.0, 0.0};
    opt.step(model);  // v = 0.9 * (1, 2) + 0.5 * (-2, 0) = (-0.1, 1.8)
    CHECK(model.a(0) == doctest::Approx(0.1));
    CHECK(model.a(1) == doctest::Approx(-5.8));
    CHECK(model.b(0, 0) == doctest::Approx(0.5));  // zero gradient, zero velocity
}

TEST_CASE("sgd_momentum: equals PyTorch's form for constant eta, differs when eta changes") {
    const double gamma = 0.9;
    std::vector<double> eta = {0.1, 0.1, 0.1, 0.1, 0.01, 0.01};
    const std::vector<double> grads = {1.0, -0.5, 2.0, 0.25, 1.5, -1.0};
    toy_model<double> model;
    sgd_momentum<double> opt({.learning_rate = eta[0], .momentum = gamma});
    double theta_torch = model.a(0), u = 0.0;
    for (std::size_t t = 0; t < grads.size(); ++t) {
        opt.set_learning_rate(eta[t]);
        model.a_grad(0) = grads[t];
        opt.step(model);
        u = gamma * u + grads[t];  // PyTorch: u = gamma u + g, theta -= eta u
        theta_torch -= eta[t] * u;
        if (t < 4) {
            CHECK(model.a(0) == doctest::Approx(theta_torch).epsilon(1e-12));
        }
    }
    // After the change PyTorch rescales the whole velocity at once; the report's form
    // keeps the old rate on old gradients, so its parameter moved further.
    CHECK(std::abs(model.a(0) - theta_torch) > 1e-3);
}

TEST_CASE("sgd_momentum: velocities are visible by parameter name") {
    poisson::nn::sequential model{poisson::nn::dense<float>(2, 3), poisson::nn::relu<float>{},
                                  poisson::nn::dense<float>(3, 1)};
    sgd_momentum<float> opt;
    std::vector<std::string> names;
    opt.for_each_state([&](std::string_view name, tensor<float>&) { names.emplace_back(name); });
    CHECK(names.empty());  // no state before the first step
    opt.init_state(model);
    opt.for_each_state([&](std::string_view name, tensor<float>& v) {
        names.emplace_back(name);
        CHECK(v == xt::zeros<float>(v.shape()));
    });
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});

    opt.reset();  // the next step rebuilds the state for another model
    toy_model<float> toy;
    toy.a_grad = {1.0f, -1.0f};
    opt.step(toy);
    opt.for_each_state([&](std::string_view name, tensor<float>& v) {
        if (name == "a") {
            CHECK(v == tensor<float>{1e-4f, -1e-4f});  // eta * g with the default eta
        }
    });
}

TEST_CASE("sgd_momentum: a model that changed shape, or bad settings, throw") {
    toy_model<double> model;
    sgd_momentum<double> opt;
    opt.step(model);
    model.a = {1.0, 2.0, 3.0};
    model.a_grad = {0.0, 0.0, 0.0};
    CHECK_THROWS_AS(opt.step(model), poisson::invalid_argument);
    CHECK_THROWS_AS(sgd_momentum<double>({.learning_rate = -1.0}), poisson::invalid_argument);
    CHECK_THROWS_WITH_AS(sgd_momentum<double>({.momentum = 1.0}),
                         "sgd_momentum: momentum is 1.000000, expected a value in [0, 1)",
                         poisson::invalid_argument);
    CHECK_THROWS_AS(opt.set_learning_rate(std::nan("")), poisson::invalid_argument);
    CHECK(opt.config().momentum == 0.9);
    CHECK(opt.learning_rate() == 1e-4);
}
