#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "poisson/nn/conv2d.hpp"
#include "poisson/nn/dense.hpp"
#include "poisson/nn/dropout.hpp"
#include "poisson/nn/flatten.hpp"
#include "poisson/nn/max_pool2d.hpp"
#include "poisson/nn/relu.hpp"
#include "poisson/nn/sequential.hpp"
#include "poisson/nn/softmax_cross_entropy.hpp"
#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

namespace {

namespace nn = poisson::nn;
using nn::tensor;
using poisson::testing::random_tensor;

template <class T>
using small_cnn = nn::sequential<nn::conv2d<T>, nn::relu<T>, nn::max_pool2d<T>, nn::flatten<T>,
                                 nn::dense<T>>;

// conv 3x3 same 1->2, relu, 2x2 pool, flatten, dense 32->3 on 8x8 images.
template <class T>
small_cnn<T> make_small_cnn() {
    small_cnn<T> model(nn::conv2d<T>::same(1, 2, 3, 3), nn::relu<T>{}, nn::max_pool2d<T>{},
                       nn::flatten<T>{}, nn::dense<T>(4 * 4 * 2, 3));
    std::uint64_t seed = 60;
    model.for_each_parameter([&](std::string_view, tensor<T>& value, tensor<T>&) {
        value = random_tensor<T>(value.shape(), ++seed, -0.5, 0.5);
    });
    return model;
}

static_assert(nn::layer<small_cnn<float>>);
static_assert(nn::has_parameters<small_cnn<double>>);
static_assert(nn::has_mode<small_cnn<double>>);

}  // namespace

TEST_CASE_TEMPLATE("sequential: forward and backward chain the layers in order", T, float,
                   double) {
    auto model = make_small_cnn<T>();
    auto copy = model;  // the same layers, run by hand
    const auto x = random_tensor<T>({2, 8, 8, 1}, 1);
    const tensor<T> y = model.forward(x);
    const auto& h = copy.template get<3>().forward(copy.template get<2>().forward(
        copy.template get<1>().forward(copy.template get<0>().forward(x))));
    CHECK(y == copy.template get<4>().forward(h));

    const auto g = random_tensor<T>(y.shape(), 2);
    const tensor<T> dx = model.backward(g);
    const auto& d3 = copy.template get<3>().backward(copy.template get<4>().backward(g));
    const auto& d0 = copy.template get<0>().backward(
        copy.template get<1>().backward(copy.template get<2>().backward(d3)));
    CHECK(dx == d0);
    CHECK(model.template get<4>().weight_gradient() == copy.template get<4>().weight_gradient());
}

TEST_CASE("sequential: parameters are named by layer position, in order") {
    auto model = make_small_cnn<float>();
    std::vector<std::string> names;
    model.for_each_parameter([&](std::string_view name, tensor<float>& value, tensor<float>& g) {
        names.emplace_back(name);
        CHECK(value.shape() == g.shape());
    });
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "4.weight", "4.bias"});

    nn::sequential nested{nn::relu<float>{}, make_small_cnn<float>()};
    names.clear();
    nested.for_each_parameter(
        [&](std::string_view name, tensor<float>&, tensor<float>&) { names.emplace_back(name); });
    CHECK(names == std::vector<std::string>{"1.0.weight", "1.0.bias", "1.4.weight", "1.4.bias"});
}

TEST_CASE("sequential: set_training reaches the layers that have a mode") {
    nn::sequential model{nn::dense<float>(3, 3), nn::dropout<float>(0.5f), nn::relu<float>{}};
    CHECK(model.get<1>().training());
    model.set_training(false);
    CHECK_FALSE(model.get<1>().training());
    model.set_training(true);
    CHECK(model.get<1>().training());
}

TEST_CASE("sequential: for_each_layer visits every layer with its index") {
    auto model = make_small_cnn<double>();
    std::vector<std::size_t> indices;
    std::size_t with_parameters = 0;
    model.for_each_layer([&](std::size_t i, auto& l) {
        indices.push_back(i);
        with_parameters += nn::has_parameters<std::remove_cvref_t<decltype(l)>>;
    });
    CHECK(indices == std::vector<std::size_t>{0, 1, 2, 3, 4});
    CHECK(with_parameters == 2);
    CHECK(decltype(model)::size == 5);
}

TEST_CASE("sequential: a small CNN with softmax cross-entropy passes the gradient check") {
    auto model = make_small_cnn<double>();
    const auto x = random_tensor<double>({3, 8, 8, 1}, 3);
    const std::vector<std::int32_t> labels = {2, 0, 1};
    nn::softmax_cross_entropy<double> loss;
    const auto objective = [&](const tensor<double>& logits, tensor<double>& grad) {
        const double value = loss.forward(logits, labels);
        grad = loss.gradient();
        return value;
    };
    poisson::testing::gradient_check_options options;
    options.floor = 1e-5;  // the loss is O(1) and averaged over 3 examples
    const auto report = poisson::testing::check_gradients(model, x, objective, options);
    CAPTURE(report.summary());
    CHECK(report.tensors.size() == 5);  // input and four parameters
    CHECK(report.worst_error() < 1e-5);
}
