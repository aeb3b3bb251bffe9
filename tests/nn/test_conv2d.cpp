#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "poisson/errors.hpp"
#include "poisson/nn/conv2d.hpp"
#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

namespace {

using poisson::nn::conv2d;
using poisson::nn::conv2d_options;
using poisson::nn::tensor;
using poisson::testing::max_abs;
using poisson::testing::max_abs_diff;
using poisson::testing::random_tensor;
using poisson::testing::tolerance;
using shape = tensor<double>::shape_type;

struct conv_case {
    const char* name;
    std::size_t n, h, w, c_in, c_out, kh, kw;
    conv2d_options options;
};

// The test cases the layer must match the naive convolution on.
const std::vector<conv_case> cases = {
    {"5x5 same padding", 2, 7, 6, 2, 3, 5, 5, {.pad_h = 2, .pad_w = 2}},
    {"1x1 stride 2", 2, 5, 6, 3, 2, 1, 1, {.stride_h = 2, .stride_w = 2}},
    {"1x1 padding 1", 1, 3, 4, 2, 2, 1, 1, {.pad_h = 1, .pad_w = 1}},
    {"3x3 non-square stride (2,1)", 3, 7, 5, 4, 3, 3, 3, {.stride_h = 2, .pad_w = 1}},
    {"3x3 many channels, batch 4", 4, 6, 6, 5, 7, 3, 3, {.pad_h = 1, .pad_w = 1}},
    {"3x2 kernel stride (1,2)", 2, 5, 7, 3, 4, 3, 2, {.stride_w = 2, .pad_h = 1}},
};

struct reference_result {
    tensor<double> y, dx, dw, db;
};

// Direct 7-loop convolution and its gradients, in double, from the definition
// y[n,i,j,o] = b[o] + sum_{u,v,c} x[n, i*sh+u-ph, j*sw+v-pw, c] w[u,v,c,o].
reference_result naive_conv(const conv_case& k, const tensor<double>& x,
                            const tensor<double>& w, const tensor<double>& b,
                            const tensor<double>& g_or_empty) {
    const auto& o = k.options;
    const std::size_t oh = (k.h + 2 * o.pad_h - k.kh) / o.stride_h + 1;
    const std::size_t ow = (k.w + 2 * o.pad_w - k.kw) / o.stride_w + 1;
    reference_result r;
    r.y = tensor<double>::from_shape({k.n, oh, ow, k.c_out});
    r.dx = xt::zeros<double>(x.shape());
    r.dw = xt::zeros<double>(w.shape());
    r.db = xt::zeros<double>(b.shape());
    const bool grads = g_or_empty.size() > 0;
    for (std::size_t n = 0; n < k.n; ++n)
        for (std::size_t i = 0; i < oh; ++i)
            for (std::size_t j = 0; j < ow; ++j)
                for (std::size_t co = 0; co < k.c_out; ++co) {
                    double acc = b(co);
                    const double g = grads ? g_or_empty(n, i, j, co) : 0.0;
                    r.db(co) += g;
                    for (std::size_t u = 0; u < k.kh; ++u)
                        for (std::size_t v = 0; v < k.kw; ++v)
                            for (std::size_t c = 0; c < k.c_in; ++c) {
                                const auto ih = std::ptrdiff_t(i * o.stride_h + u) -
                                                std::ptrdiff_t(o.pad_h);
                                const auto iw = std::ptrdiff_t(j * o.stride_w + v) -
                                                std::ptrdiff_t(o.pad_w);
                                if (ih < 0 || iw < 0 || ih >= std::ptrdiff_t(k.h) ||
                                    iw >= std::ptrdiff_t(k.w)) {
                                    continue;
                                }
                                const double xv = x(n, ih, iw, c);
                                acc += xv * w(u, v, c, co);
                                r.dw(u, v, c, co) += xv * g;
                                r.dx(n, ih, iw, c) += w(u, v, c, co) * g;
                            }
                    r.y(n, i, j, co) = acc;
                }
    return r;
}

template <class T>
conv2d<T> make_conv(const conv_case& k, const tensor<double>& w, const tensor<double>& b) {
    conv2d<T> conv(k.c_in, k.c_out, k.kh, k.kw, k.options);
    conv.weight() = xt::cast<T>(w);
    conv.bias() = xt::cast<T>(b);
    return conv;
}

}  // namespace

TEST_CASE_TEMPLATE("conv2d: forward and backward match the naive convolution", T, float,
                   double) {
    std::uint64_t seed = 100;
    for (const auto& k : cases) {
        CAPTURE(std::string(k.name));
        const auto x = random_tensor<double>({k.n, k.h, k.w, k.c_in}, ++seed);
        const auto w = random_tensor<double>({k.kh, k.kw, k.c_in, k.c_out}, ++seed);
        const auto b = random_tensor<double>({k.c_out}, ++seed);
        auto conv = make_conv<T>(k, w, b);
        const tensor<T> y = conv.forward(xt::cast<T>(x));
        const auto g = random_tensor<double>(y.shape(), ++seed);
        const tensor<T> dx = conv.backward(xt::cast<T>(g));
        const auto ref = naive_conv(k, x, w, b, g);

        REQUIRE(y.shape() == ref.y.shape());
        CHECK(max_abs_diff(y, ref.y) <= tolerance<T>() * (1 + max_abs(ref.y)));
        REQUIRE(dx.shape() == x.shape());
        CHECK(max_abs_diff(dx, ref.dx) <= tolerance<T>() * (1 + max_abs(ref.dx)));
        CHECK(max_abs_diff(conv.weight_gradient(), ref.dw) <=
              tolerance<T>() * (1 + max_abs(ref.dw)));
        CHECK(max_abs_diff(conv.bias_gradient(), ref.db) <=
              tolerance<T>() * (1 + max_abs(ref.db)));
    }
}

TEST_CASE("conv2d: a 2x2 kernel of ones sums each 2x2 block (hand-computed)") {
    conv2d<double> conv(1, 1, 2, 2);
    conv.weight().fill(1.0);
    conv.bias().fill(0.5);
    tensor<double> x = xt::arange<double>(1.0, 10.0);
    x.reshape({1, 3, 3, 1});
    const auto& y = conv.forward(x);
    REQUIRE(y.shape() == shape{1, 2, 2, 1});
    // Blocks {1,2,4,5}, {2,3,5,6}, {4,5,7,8}, {5,6,8,9}, plus the bias.
    CHECK(y(0, 0, 0, 0) == 12.5);
    CHECK(y(0, 0, 1, 0) == 16.5);
    CHECK(y(0, 1, 0, 0) == 24.5);
    CHECK(y(0, 1, 1, 0) == 28.5);
}

TEST_CASE("conv2d: same keeps the image size at stride 1 and gives ceil(H/s) at stride 2") {
    conv2d<float> same1 = conv2d<float>::same(1, 2, 5, 3);
    CHECK(same1.options().pad_h == 2);
    CHECK(same1.options().pad_w == 1);
    CHECK(same1.forward(tensor<float>::from_shape({2, 28, 27, 1})).shape() ==
          tensor<float>::shape_type{2, 28, 27, 2});
    auto same2 = conv2d<float>::same(1, 2, 3, 3, {.stride_h = 2, .stride_w = 2});
    CHECK(same2.forward(xt::zeros<float>({1, 7, 8, 1})).shape() ==
          tensor<float>::shape_type{1, 4, 4, 2});
    CHECK_THROWS_AS(conv2d<float>::same(1, 2, 4, 3), poisson::invalid_argument);
}

TEST_CASE("conv2d: without input gradient, backward returns empty and still fills dW, db") {
    const conv_case k{"no dx", 2, 5, 5, 1, 3, 3, 3,
                      {.pad_h = 1, .pad_w = 1, .compute_input_gradient = false}};
    const auto x = random_tensor<double>({k.n, k.h, k.w, k.c_in}, 7);
    const auto w = random_tensor<double>({k.kh, k.kw, k.c_in, k.c_out}, 8);
    const auto b = random_tensor<double>({k.c_out}, 9);
    auto conv = make_conv<double>(k, w, b);
    const auto& y = conv.forward(x);
    const auto g = random_tensor<double>(y.shape(), 10);
    CHECK(conv.backward(g).size() == 0);
    const auto ref = naive_conv(k, x, w, b, g);
    CHECK(max_abs_diff(conv.weight_gradient(), ref.dw) <= 1e-12 * (1 + max_abs(ref.dw)));
    CHECK(max_abs_diff(conv.bias_gradient(), ref.db) <= 1e-12 * (1 + max_abs(ref.db)));
    poisson::testing::gradient_check_options options;
    options.check_input = false;
    const auto report = poisson::testing::check_layer_gradients(conv, x, options);
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
}

TEST_CASE("conv2d: repeated calls reuse buffers and give the same results") {
    auto conv = conv2d<float>::same(2, 3, 3, 3);
    conv.weight() = random_tensor<float>(conv.weight().shape(), 1);
    const auto x = random_tensor<float>({2, 6, 6, 2}, 2);
    const float* before = conv.forward(x).data();
    const tensor<float> first = conv.forward(x);
    CHECK(conv.forward(x).data() == before);
    CHECK(conv.forward(x) == first);
}

TEST_CASE("conv2d: shape errors name the expected and actual shapes") {
    conv2d<float> conv(1, 4, 3, 3);
    CHECK_THROWS_WITH_AS(conv.forward(xt::zeros<float>({2, 8, 8, 3})),
                         "conv2d: input has shape [2, 8, 8, 3] (3 channels), expected "
                         "[N, H, W, 1]",
                         poisson::invalid_argument);
    CHECK_THROWS_WITH_AS(conv.forward(xt::zeros<float>({8, 8, 1})),
                         "conv2d: input has shape [8, 8, 1], expected rank 4 [N, H, W, 1]",
                         poisson::invalid_argument);
    CHECK_THROWS_WITH_AS(conv.forward(xt::zeros<float>({1, 2, 8, 1})),
                         "conv2d: input has shape [1, 2, 8, 1], padded to 2x8 it is smaller "
                         "than the 3x3 kernel",
                         poisson::invalid_argument);
    conv.forward(xt::zeros<float>({2, 8, 8, 1}));
    CHECK_THROWS_WITH_AS(conv.backward(xt::zeros<float>({2, 6, 6, 3})),
                         "conv2d: output gradient has shape [2, 6, 6, 3], expected the output "
                         "shape [2, 6, 6, 4]",
                         poisson::invalid_argument);
    conv.weight() = xt::zeros<float>({3, 3, 1, 5});
    CHECK_THROWS_WITH_AS(conv.forward(xt::zeros<float>({2, 8, 8, 1})),
                         "conv2d: weight has shape [3, 3, 1, 5] and bias [4], expected "
                         "[3, 3, 1, 4] and [4]",
                         poisson::invalid_argument);
    CHECK_THROWS_AS(conv2d<float>(0, 4, 3, 3), poisson::invalid_argument);
    CHECK_THROWS_AS(conv2d<float>(1, 4, 3, 3, {.stride_w = 0}), poisson::invalid_argument);
}

TEST_CASE("conv2d: finite differences agree with backward") {
    for (const auto& k : cases) {
        CAPTURE(std::string(k.name));
        auto conv = make_conv<double>(k, random_tensor<double>({k.kh, k.kw, k.c_in, k.c_out}, 3),
                                      random_tensor<double>({k.c_out}, 4));
        const auto x = random_tensor<double>({k.n, k.h, k.w, k.c_in}, 5);
        const auto report = poisson::testing::check_layer_gradients(conv, x);
        CAPTURE(report.summary());
        CHECK(report.worst_error() < 1e-6);
    }
}

TEST_CASE_TEMPLATE("conv2d: chunks of images give the naive results at every chunk boundary", T,
                   float, double) {
    // Working-set bytes of one image of each case (im2col, output and dY W^T rows); chunks
    // of 1, 2 and 3 images over a batch of 5 leave a last chunk of 1, 1 and 2 images, a
    // single byte still makes chunks of one, and 0 puts the batch in one chunk.
    const std::vector<conv_case> shapes = {
        {"5x5 same, 1 channel", 5, 6, 7, 1, 3, 5, 5, {.pad_h = 2, .pad_w = 2}},
        {"3x3 stride 2, 4 channels", 5, 7, 6, 4, 3, 3, 3,
         {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
        {"3x2 stride (1,2), no padding", 5, 5, 7, 3, 2, 3, 2, {.stride_w = 2}},
    };
    std::uint64_t seed = 300;
    for (const auto& base : shapes) {
        const std::size_t oh = (base.h + 2 * base.options.pad_h - base.kh) /
                               base.options.stride_h + 1;
        const std::size_t ow = (base.w + 2 * base.options.pad_w - base.kw) /
                               base.options.stride_w + 1;
        const std::size_t patch = base.kh * base.kw * base.c_in;
        const std::size_t image = oh * ow * (2 * patch + base.c_out) * sizeof(T);
        const auto x = random_tensor<double>({base.n, base.h, base.w, base.c_in}, ++seed);
        const auto w = random_tensor<double>({base.kh, base.kw, base.c_in, base.c_out}, ++seed);
        const auto b = random_tensor<double>({base.c_out}, ++seed);
        // chunk_bytes counts per thread.
        const auto threads = poisson::nn::detail::thread_count();
        const auto per_thread = [&](std::size_t images) {
            return (images * image + threads - 1) / threads;
        };
        const std::vector<std::pair<std::size_t, std::size_t>> chunks = {
            {per_thread(1), 1}, {per_thread(2), 2}, {per_thread(3), 3}, {1, 1}, {0, base.n}};
        for (const auto& [bytes, images] : chunks) {
            CAPTURE(std::string(base.name));
            CAPTURE(bytes);
            conv_case k = base;
            k.options.chunk_bytes = bytes;
            auto conv = make_conv<T>(k, w, b);
            const tensor<T> y = conv.forward(xt::cast<T>(x));
            CHECK(conv.images_per_chunk() == images);
            const auto g = random_tensor<double>(y.shape(), seed + 50);
            const tensor<T> dx = conv.backward(xt::cast<T>(g));
            const auto ref = naive_conv(k, x, w, b, g);
            CHECK(max_abs_diff(y, ref.y) <= tolerance<T>() * (1 + max_abs(ref.y)));
            CHECK(max_abs_diff(dx, ref.dx) <= tolerance<T>() * (1 + max_abs(ref.dx)));
            CHECK(max_abs_diff(conv.weight_gradient(), ref.dw) <=
                  tolerance<T>() * (1 + max_abs(ref.dw)));
            CHECK(max_abs_diff(conv.bias_gradient(), ref.db) <=
                  tolerance<T>() * (1 + max_abs(ref.db)));
            // A second backward after the same forward rebuilds the chunks it needs.
            const tensor<T> again = conv.backward(xt::cast<T>(g));
            CHECK(max_abs_diff(again, dx) == 0.0);
        }
    }
}

TEST_CASE("conv2d: finite differences agree with backward across chunks") {
    // Two images per chunk: 5x4 pixels of 2 * 18 + 3 values each, counted per thread.
    const auto threads = poisson::nn::detail::thread_count();
    const std::size_t bytes = (2 * 5 * 4 * 39 * sizeof(double) + threads - 1) / threads;
    const conv_case k{"chunked", 3, 5, 4, 2, 3, 3, 3,
                      {.pad_h = 1, .pad_w = 1, .chunk_bytes = bytes}};
    auto conv = make_conv<double>(k, random_tensor<double>({3, 3, 2, 3}, 11),
                                  random_tensor<double>({3}, 12));
    const auto report =
        poisson::testing::check_layer_gradients(conv, random_tensor<double>({3, 5, 4, 2}, 13));
    CHECK(conv.images_per_chunk() == 2);
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
}

TEST_CASE("conv2d: an empty batch gives empty outputs and zero parameter gradients") {
    auto conv = conv2d<float>::same(2, 3, 3, 3);
    conv.weight().fill(1.0f);
    const auto& y = conv.forward(tensor<float>::from_shape({0, 4, 4, 2}));
    CHECK(y.shape() == tensor<float>::shape_type{0, 4, 4, 3});
    const auto& dx = conv.backward(tensor<float>::from_shape({0, 4, 4, 3}));
    CHECK(dx.shape() == tensor<float>::shape_type{0, 4, 4, 2});
    CHECK(max_abs(conv.weight_gradient()) == 0.0);
    CHECK(max_abs(conv.bias_gradient()) == 0.0);
}

TEST_CASE("conv2d: backward_from takes the output gradient chunk by chunk") {
    const conv_case k{"chunked", 5, 6, 5, 2, 3, 3, 3, {.pad_h = 1, .pad_w = 1, .chunk_bytes = 1}};
    auto conv = make_conv<double>(k, random_tensor<double>({3, 3, 2, 3}, 21),
                                  random_tensor<double>({3}, 22));
    auto copy = conv;
    const auto x = random_tensor<double>({5, 6, 5, 2}, 23);
    const tensor<double> y = conv.forward(x);
    copy.forward(x);
    const auto g = random_tensor<double>(y.shape(), 24);
    const tensor<double> dx = copy.backward(g);
    std::vector<std::pair<std::size_t, std::size_t>> asked;
    const std::size_t image = 6 * 5 * 3;
    const auto source = [&](std::size_t first, std::size_t last, double* rows) {
        asked.emplace_back(first, last);
        std::copy_n(g.data() + first * image, (last - first) * image, rows);
    };
    CHECK(conv.backward_from(y.shape(), source) == dx);
    CHECK(conv.weight_gradient() == copy.weight_gradient());
    CHECK(conv.bias_gradient() == copy.bias_gradient());
    // One image per chunk, last chunk first.
    CHECK(asked == std::vector<std::pair<std::size_t, std::size_t>>{
                       {4, 5}, {3, 4}, {2, 3}, {1, 2}, {0, 1}});
    CHECK_THROWS_WITH_AS(conv.backward_from({5, 6, 5, 4}, source),
                         "conv2d: output gradient has shape [5, 6, 5, 4], expected the output "
                         "shape [5, 6, 5, 3]",
                         poisson::invalid_argument);
}
