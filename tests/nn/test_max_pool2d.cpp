#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "poisson/errors.hpp"
#include "poisson/nn/max_pool2d.hpp"
#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

namespace {

using poisson::nn::max_pool2d;
using poisson::nn::max_pool2d_options;
using poisson::nn::tensor;
using poisson::testing::max_abs_diff;
using poisson::testing::random_tensor;

// Direct pooling from the definition; ties resolved to the first maximum scanned in
// row-major window order, the documented rule.
struct reference {
    tensor<double> y, dx;
};

reference naive_pool(const tensor<double>& x, const max_pool2d_options& o,
                     const tensor<double>& g) {
    const auto& s = x.shape();
    const std::size_t oh = (s[1] - o.window_h) / o.stride_h + 1;
    const std::size_t ow = (s[2] - o.window_w) / o.stride_w + 1;
    reference r{tensor<double>::from_shape({s[0], oh, ow, s[3]}), xt::zeros<double>(s)};
    for (std::size_t n = 0; n < s[0]; ++n)
        for (std::size_t i = 0; i < oh; ++i)
            for (std::size_t j = 0; j < ow; ++j)
                for (std::size_t c = 0; c < s[3]; ++c) {
                    std::size_t bu = 0, bv = 0;
                    for (std::size_t u = 0; u < o.window_h; ++u)
                        for (std::size_t v = 0; v < o.window_w; ++v)
                            if (x(n, i * o.stride_h + u, j * o.stride_w + v, c) >
                                x(n, i * o.stride_h + bu, j * o.stride_w + bv, c)) {
                                bu = u;
                                bv = v;
                            }
                    const std::size_t h = i * o.stride_h + bu, w = j * o.stride_w + bv;
                    r.y(n, i, j, c) = x(n, h, w, c);
                    r.dx(n, h, w, c) += g(n, i, j, c);
                }
    return r;
}

}  // namespace

TEST_CASE("max_pool2d: 2x2 stride 2 on a hand-computed image") {
    max_pool2d<double> pool;
    tensor<double> x = {{1, 5, 2, 0}, {3, 4, 8, 1}, {0, 2, 7, 7}, {9, 1, 6, 3}};
    x.reshape({1, 4, 4, 1});
    const auto& y = pool.forward(x);
    REQUIRE(y.shape() == tensor<double>::shape_type{1, 2, 2, 1});
    CHECK(y(0, 0, 0, 0) == 5);
    CHECK(y(0, 0, 1, 0) == 8);
    CHECK(y(0, 1, 0, 0) == 9);
    CHECK(y(0, 1, 1, 0) == 7);
    // Positions (h*W + w)*C + c: 5 at (0,1), 8 at (1,2), 9 at (3,0), the first 7 at (2,2).
    tensor<std::int32_t> expected = {1, 6, 12, 10};
    expected.reshape({1, 2, 2, 1});
    CHECK(pool.argmax() == expected);
}

TEST_CASE("max_pool2d: on ties the whole gradient goes to the first maximum") {
    max_pool2d<float> pool({.window_h = 2, .window_w = 3, .stride_h = 2, .stride_w = 3});
    const tensor<float> x = xt::ones<float>({1, 2, 6, 2});
    pool.forward(x);
    const tensor<float> g = {{{{1, 2}, {3, 4}}}};
    const auto& dx = pool.backward(g);
    tensor<float> expected = xt::zeros<float>({1, 2, 6, 2});
    expected(0, 0, 0, 0) = 1;  // first pixel of the first window
    expected(0, 0, 0, 1) = 2;
    expected(0, 0, 3, 0) = 3;  // first pixel of the second window
    expected(0, 0, 3, 1) = 4;
    CHECK(dx == expected);
}

TEST_CASE_TEMPLATE("max_pool2d: general windows and strides match the naive pooling", T, float,
                   double) {
    const std::vector<max_pool2d_options> options = {
        {},
        {.window_h = 3, .window_w = 3, .stride_h = 2, .stride_w = 2},  // overlapping
        {.window_h = 2, .window_w = 3, .stride_h = 1, .stride_w = 2},
        {.window_h = 1, .window_w = 1, .stride_h = 1, .stride_w = 1},
    };
    std::uint64_t seed = 40;
    for (const auto& o : options) {
        CAPTURE(o.window_h);
        CAPTURE(o.window_w);
        // Odd sizes leave rows and columns that no window covers.
        const auto x = random_tensor<double>({3, 7, 9, 4}, ++seed);
        max_pool2d<T> pool(o);
        const tensor<T> y = pool.forward(xt::cast<T>(x));
        const auto g = random_tensor<double>(y.shape(), ++seed);
        const tensor<T> dx = pool.backward(xt::cast<T>(g));
        // The reference sees the same rounded values, so ties and maxima agree exactly.
        const tensor<double> xr = xt::cast<double>(xt::cast<T>(x));
        const auto ref = naive_pool(xr, o, xt::cast<double>(xt::cast<T>(g)));
        REQUIRE(y.shape() == ref.y.shape());
        CHECK(max_abs_diff(y, ref.y) == 0.0);
        CHECK(max_abs_diff(dx, ref.dx) <= 1e-6);
    }
}

TEST_CASE("max_pool2d: finite differences agree with backward") {
    max_pool2d<double> pool({.window_h = 3, .window_w = 2, .stride_h = 2, .stride_w = 2});
    const auto report = poisson::testing::check_layer_gradients(
        pool, random_tensor<double>({2, 7, 6, 3}, 77));
    CAPTURE(report.summary());
    CHECK(report.worst_error() < 1e-6);
}

TEST_CASE("max_pool2d: invalid settings and shapes throw") {
    CHECK_THROWS_AS(max_pool2d<float>({.window_h = 0}), poisson::invalid_argument);
    CHECK_THROWS_AS(max_pool2d<float>({.stride_w = 0}), poisson::invalid_argument);
    max_pool2d<float> pool;
    CHECK_THROWS_WITH_AS(pool.forward(xt::zeros<float>({4, 4, 1})),
                         "max_pool2d: input has shape [4, 4, 1], expected rank 4 [N, H, W, C]",
                         poisson::invalid_argument);
    CHECK_THROWS_WITH_AS(pool.forward(xt::zeros<float>({1, 1, 4, 1})),
                         "max_pool2d: input has shape [1, 1, 4, 1], smaller than the 2x2 window",
                         poisson::invalid_argument);
    pool.forward(xt::zeros<float>({1, 4, 4, 2}));
    CHECK_THROWS_AS(pool.backward(xt::zeros<float>({1, 4, 4, 2})), poisson::invalid_argument);
}

TEST_CASE("max_pool2d: images pooled in pieces give forward's output and maxima") {
    const max_pool2d_options o{.window_h = 3, .window_w = 2, .stride_h = 2, .stride_w = 2};
    const auto x = random_tensor<float>({5, 7, 6, 3}, 78);
    max_pool2d<float> whole(o), pieces(o);
    const tensor<float> y = whole.forward(x);
    pieces.start_forward(x.shape());
    const std::size_t image = 7 * 6 * 3;
    pieces.forward_images(x.data(), 0, 2);
    pieces.forward_images(x.data() + 2 * image, 2, 3);
    pieces.forward_images(x.data() + 3 * image, 3, 5);
    CHECK(pieces.output() == y);
    CHECK(pieces.argmax() == whole.argmax());
    CHECK_THROWS_AS(pieces.start_forward({5, 7, 6}), poisson::invalid_argument);
}
