#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "poisson/errors.hpp"
#include "poisson/nn/softmax_cross_entropy.hpp"
#include "support/tensors.hpp"

namespace {

using poisson::nn::softmax_cross_entropy;
using poisson::nn::tensor;
using poisson::testing::random_tensor;
using labels = std::vector<std::int32_t>;

}  // namespace

TEST_CASE_TEMPLATE("softmax_cross_entropy: equal logits give log C and softmax - onehot", T,
                   float, double) {
    softmax_cross_entropy<T> loss;
    const tensor<T> z = {{0, 0}, {3, 3}};
    CHECK(loss.forward(z, labels{0, 1}) == doctest::Approx(std::log(2.0)).epsilon(1e-6));
    const tensor<T> expected = {{-0.25, 0.25}, {0.25, -0.25}};  // (0.5 - onehot) / N
    CHECK(poisson::testing::max_abs_diff(loss.gradient(), expected) < 1e-7);
}

TEST_CASE_TEMPLATE("softmax_cross_entropy: matches the definition on moderate logits", T, float,
                   double) {
    const auto z = random_tensor<double>({6, 4}, 21, -3.0, 3.0);
    const labels t = {0, 3, 1, 2, 2, 0};
    softmax_cross_entropy<T> loss;
    const T value = loss.forward(xt::cast<T>(z), t);
    double expected = 0;
    tensor<double> grad = xt::zeros<double>(z.shape());
    std::size_t correct = 0;
    for (std::size_t r = 0; r < 6; ++r) {
        double sum = 0;
        std::size_t best = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            sum += std::exp(z(r, j));
            best = z(r, j) > z(r, best) ? j : best;
        }
        correct += (best == std::size_t(t[r]));
        expected += (std::log(sum) - z(r, t[r])) / 6;
        for (std::size_t j = 0; j < 4; ++j) {
            grad(r, j) = (std::exp(z(r, j)) / sum - (j == std::size_t(t[r]))) / 6;
        }
    }
    CHECK(value == doctest::Approx(expected).epsilon(1e-6));
    CHECK(poisson::testing::max_abs_diff(loss.gradient(), grad) < 1e-6);
    CHECK(loss.correct() == correct);
    CHECK(loss.loss() == value);
}

TEST_CASE_TEMPLATE("softmax_cross_entropy: logits near +-5000 and -inf stay finite", T, float,
                   double) {
    const T inf = std::numeric_limits<T>::infinity();
    softmax_cross_entropy<T> loss;
    // Row 0: 5000 dominates; label 2 sits 10 below it. Row 1: -inf entries drop out.
    const tensor<T> z = {{5000, -5000, 4990}, {1, -inf, 2}};
    const double value = loss.forward(z, labels{2, 0});
    const double row0 = 10 + std::log1p(std::exp(-10.0));
    const double row1 = std::log(std::exp(1.0) + std::exp(2.0)) - 1;
    CHECK(std::isfinite(value));
    CHECK(value == doctest::Approx((row0 + row1) / 2).epsilon(1e-6));
    CHECK(loss.gradient()(1, 1) == T{0});
    for (const T g : loss.gradient()) {
        CHECK(std::isfinite(g));
    }
    CHECK(loss.correct() == 0);
    // Shifting every logit by the same amount changes nothing.
    const tensor<T> shifted = {{-5000, -5000, -5000}, {-5000, -5000, -5000}};
    const tensor<T> base = {{0, 0, 0}, {0, 0, 0}};
    CHECK(loss.forward(shifted, labels{1, 2}) == doctest::Approx(loss.forward(base, labels{1, 2})));
}

TEST_CASE("softmax_cross_entropy: the gradient matches central differences") {
    auto z = random_tensor<double>({3, 5}, 22, -2.0, 2.0);
    const labels t = {4, 0, 2};
    softmax_cross_entropy<double> loss;
    loss.forward(z, t);
    const tensor<double> analytic = loss.gradient();
    const double h = 1e-6;
    double worst = 0;
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double v = z.flat(i);
        z.flat(i) = v + h;
        const double plus = loss.forward(z, t);
        z.flat(i) = v - h;
        const double minus = loss.forward(z, t);
        z.flat(i) = v;
        worst = std::max(worst, std::abs((plus - minus) / (2 * h) - analytic.flat(i)));
    }
    CHECK(worst < 1e-8);
}

TEST_CASE("softmax_cross_entropy: counts correct argmax predictions, first maximum on ties") {
    softmax_cross_entropy<float> loss;
    const tensor<float> z = {{1, 5, 2}, {7, 0, 7}, {0, 0, 9}, {4, 4, 1}};
    loss.forward(z, labels{1, 2, 2, 0});  // right, wrong (tie -> 0), right, right (tie -> 0)
    CHECK(loss.correct() == 3);
    const tensor<std::int32_t> as_tensor = {1, 0, 0, 1};  // right, right, wrong, wrong
    loss.forward(z, as_tensor);
    CHECK(loss.correct() == 2);
}

TEST_CASE("softmax_cross_entropy: bad labels and shapes throw invalid_argument") {
    softmax_cross_entropy<float> loss;
    const tensor<float> z = xt::zeros<float>({2, 10});
    CHECK_THROWS_WITH_AS(loss.forward(z, labels{3, 10}),
                         "softmax_cross_entropy: label 10 at index 1 is outside [0, 10)",
                         poisson::invalid_argument);
    CHECK_THROWS_AS(loss.forward(z, labels{-1, 0}), poisson::invalid_argument);
    CHECK_THROWS_WITH_AS(loss.forward(z, labels{1}),
                         "softmax_cross_entropy: 1 labels for logits of shape [2, 10]",
                         poisson::invalid_argument);
    CHECK_THROWS_AS(loss.forward(xt::zeros<float>({2, 2, 5}), labels{0, 0}),
                    poisson::invalid_argument);
    CHECK_THROWS_AS(loss.forward(xt::zeros<float>({0, 10}), labels{}), poisson::invalid_argument);
}

TEST_CASE("softmax_cross_entropy: NaN, +inf or all -inf logits throw numerical_error") {
    softmax_cross_entropy<double> loss;
    const double inf = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(loss.forward(tensor<double>{{0, std::nan("")}}, labels{0}),
                    poisson::numerical_error);
    CHECK_THROWS_AS(loss.forward(tensor<double>{{inf, 0}}, labels{0}), poisson::numerical_error);
    CHECK_THROWS_WITH_AS(loss.forward(tensor<double>{{0, 1}, {-inf, -inf}}, labels{0, 0}),
                         "softmax_cross_entropy: every logit of row 1 is -inf",
                         poisson::numerical_error);
}
