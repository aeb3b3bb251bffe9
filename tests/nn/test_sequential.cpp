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

namespace {

// Which neighbours share a pass: conv2d into relu forward, max_pool2d through relu backward.
static_assert(nn::detail::fuses_forward<nn::conv2d<float>, nn::relu<float>>);
static_assert(!nn::detail::fuses_forward<nn::conv2d<float>, nn::max_pool2d<float>>);
static_assert(!nn::detail::fuses_forward<nn::conv2d<float>, nn::relu<double>>);
static_assert(!nn::detail::fuses_forward<nn::dense<float>, nn::relu<float>>);
static_assert(nn::detail::fuses_backward<nn::relu<float>, nn::max_pool2d<float>>);
static_assert(!nn::detail::fuses_backward<nn::dropout<float>, nn::max_pool2d<float>>);
static_assert(!nn::detail::fuses_backward<nn::conv2d<float>, nn::max_pool2d<float>>);

// The passes sequential makes of the stacks below and of the report's layer order.
using report_order = nn::sequential<nn::conv2d<float>, nn::relu<float>, nn::max_pool2d<float>,
                                    nn::flatten<float>, nn::dense<float>, nn::relu<float>,
                                    nn::dropout<float>, nn::dense<float>>;
static_assert(report_order::forward_stage_length<0> == 3);  // conv, relu, pool in one pass
static_assert(report_order::forward_stage_length<3> == 1);
static_assert(report_order::forward_stage_length<4> == 1);  // dense does not fuse
static_assert(report_order::backward_stage_length<2> == 3);  // pool through relu into conv
static_assert(report_order::backward_stage_length<1> == 1);
static_assert(report_order::backward_stage_length<0> == 1);
using no_conv_in_front =
    nn::sequential<nn::flatten<float>, nn::relu<float>, nn::max_pool2d<float>>;
static_assert(no_conv_in_front::backward_stage_length<2> == 2);  // pool through relu only
using conv_relu_drop =
    nn::sequential<nn::conv2d<float>, nn::relu<float>, nn::dropout<float>, nn::max_pool2d<float>>;
static_assert(conv_relu_drop::forward_stage_length<0> == 2);  // conv into relu only
static_assert(conv_relu_drop::backward_stage_length<3> == 1);

// conv (chunks of two images over a batch of 5), relu, overlapping 3x3 pooling at stride 2:
// windows share maxima, and half the conv outputs are negative, so the mask matters.
template <class T>
using fused_cnn = nn::sequential<nn::conv2d<T>, nn::relu<T>, nn::max_pool2d<T>, nn::conv2d<T>,
                                 nn::relu<T>, nn::max_pool2d<T>>;

template <class T>
fused_cnn<T> make_fused_cnn() {
    const nn::conv2d_options chunked{.pad_h = 1, .pad_w = 1, .chunk_bytes = 1};
    const nn::max_pool2d_options overlapping{
        .window_h = 3, .window_w = 3, .stride_h = 2, .stride_w = 2};
    fused_cnn<T> model(nn::conv2d<T>(2, 3, 3, 3, chunked), nn::relu<T>{},
                       nn::max_pool2d<T>(overlapping), nn::conv2d<T>::same(3, 4, 3, 3),
                       nn::relu<T>{}, nn::max_pool2d<T>{});
    std::uint64_t seed = 80;
    model.for_each_parameter([&](std::string_view, tensor<T>& value, tensor<T>&) {
        value = random_tensor<T>(value.shape(), ++seed, -0.5, 0.5);
    });
    return model;
}

}  // namespace

TEST_CASE_TEMPLATE("sequential: fused neighbours give the separate calls' results bit for bit",
                   T, float, double) {
    auto model = make_fused_cnn<T>();
    auto copy = model;
    const auto x = random_tensor<T>({5, 9, 9, 2}, 4);
    const tensor<T> y = model.forward(x);
    const auto& h = copy.template get<2>().forward(
        copy.template get<1>().forward(copy.template get<0>().forward(x)));
    const tensor<T> by_hand = copy.template get<5>().forward(
        copy.template get<4>().forward(copy.template get<3>().forward(h)));
    REQUIRE(y.shape() == by_hand.shape());
    CHECK(y == by_hand);
    // The fused forward leaves each pool the maxima separate forwards find; the relus in
    // front of the pools kept no output.
    CHECK(model.template get<2>().output() == copy.template get<2>().output());
    CHECK(model.template get<2>().argmax() == copy.template get<2>().argmax());
    CHECK(model.template get<5>().argmax() == copy.template get<5>().argmax());
    CHECK_THROWS_AS(model.template get<1>().output(), poisson::invalid_argument);

    const auto g = random_tensor<T>(y.shape(), 5);
    const tensor<T> dx = model.backward(g);
    const auto& d3 = copy.template get<3>().backward(
        copy.template get<4>().backward(copy.template get<5>().backward(g)));
    const auto& d0 = copy.template get<0>().backward(
        copy.template get<1>().backward(copy.template get<2>().backward(d3)));
    REQUIRE(dx.shape() == d0.shape());
    CHECK(dx == d0);
    CHECK(model.template get<0>().weight_gradient() == copy.template get<0>().weight_gradient());
    CHECK(model.template get<3>().weight_gradient() == copy.template get<3>().weight_gradient());
    CHECK(model.template get<3>().bias_gradient() == copy.template get<3>().bias_gradient());
}

TEST_CASE("sequential: fused and separate calls mix where the state allows") {
    auto model = make_fused_cnn<double>();
    auto copy = model;
    const auto x = random_tensor<double>({3, 8, 8, 2}, 6);
    const auto g = random_tensor<double>(copy.forward(x).shape(), 7);
    const tensor<double> dx = copy.backward(g);
    // Separate forwards, then the fused backward.
    const tensor<double>* cur = &x;
    model.for_each_layer([&](std::size_t, auto& l) { cur = &l.forward(*cur); });
    CHECK(model.backward(g) == dx);
    // A fused forward keeps no relu output, so relu's own backward refuses to run; the
    // pool's and conv's own backward run as usual.
    CHECK(model.forward(x) == copy.forward(x));
    const auto& d4 = model.get<5>().backward(g);
    CHECK_THROWS_WITH_AS(model.get<4>().backward(d4),
                         doctest::Contains("the last forward did not keep it"),
                         poisson::invalid_argument);
    CHECK(model.backward(g) == dx);
}

TEST_CASE("sequential: a fused stack passes the gradient check") {
    auto model = make_fused_cnn<double>();
    poisson::testing::gradient_check_options options;
    options.max_entries = 60;
    const auto report =
        poisson::testing::check_layer_gradients(model, random_tensor<double>({5, 9, 9, 2}, 8),
                                                options);
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
}

TEST_CASE("sequential: layers that cannot fuse still chain") {
    nn::sequential model{nn::conv2d<double>::same(1, 2, 3, 3), nn::max_pool2d<double>{},
                         nn::relu<double>{}, nn::relu<double>{}, nn::max_pool2d<double>{}};
    model.get<0>().weight() = random_tensor<double>({3, 3, 1, 2}, 9);
    auto copy = model;
    const auto x = random_tensor<double>({2, 8, 8, 1}, 10);
    const tensor<double> y = model.forward(x);
    const auto& h = copy.get<2>().forward(copy.get<1>().forward(copy.get<0>().forward(x)));
    CHECK(y == copy.get<4>().forward(copy.get<3>().forward(h)));
    const auto g = random_tensor<double>(y.shape(), 11);
    const tensor<double> dx = model.backward(g);
    const auto& d2 = copy.get<2>().backward(copy.get<3>().backward(copy.get<4>().backward(g)));
    CHECK(dx == copy.get<0>().backward(copy.get<1>().backward(d2)));
}

TEST_CASE("max_pool2d: backward_into refuses a layer in front of another output shape") {
    nn::relu<float> front;
    front.forward(xt::zeros<float>({1, 4, 4, 2}));
    nn::max_pool2d<float> pool;
    const auto& y = pool.forward(xt::zeros<float>({1, 6, 6, 2}));
    CHECK_THROWS_WITH_AS(pool.backward_into(tensor<float>(y), front),
                         "max_pool2d: the layer in front has output shape [1, 4, 4, 2], the "
                         "last input was [1, 6, 6, 2]",
                         poisson::invalid_argument);
}

TEST_CASE("sequential: a max_pool2d through a relu without a conv2d in front") {
    nn::sequential model{nn::relu<float>{}, nn::max_pool2d<float>{}};
    static_assert(decltype(model)::backward_stage_length<1> == 2);
    auto copy = model;
    const auto x = random_tensor<float>({3, 6, 6, 2}, 12);
    const tensor<float> y = model.forward(x);
    CHECK(y == copy.get<1>().forward(copy.get<0>().forward(x)));
    const auto g = random_tensor<float>(y.shape(), 13);
    CHECK(model.backward(g) == copy.get<0>().backward(copy.get<1>().backward(g)));
}
