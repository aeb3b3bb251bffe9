// Loads full-size Fashion-MNIST (60,000 + 10,000, the same IDX layout as MNIST) when it is
// installed (Debian: dataset-fashion-mnist); CMake registers this test only then.

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "poisson/data/mnist.hpp"

namespace {

std::array<int, 10> class_counts(const xt::xarray<std::int32_t>& labels) {
    std::array<int, 10> counts{};
    for (const std::int32_t label : labels) {
        ++counts.at(static_cast<std::size_t>(label));
    }
    return counts;
}

}  // namespace

TEST_CASE("load_mnist: full-size Fashion-MNIST splits 55000/5000 with t10k as the test set") {
    const auto splits = poisson::data::load_mnist(POISSON_FASHION_MNIST_DIR);
    CHECK(splits.train.images.shape() == std::vector<std::size_t>{55000, 28, 28, 1});
    CHECK(splits.validation.images.shape() == std::vector<std::size_t>{5000, 28, 28, 1});
    CHECK(splits.test.images.shape() == std::vector<std::size_t>{10000, 28, 28, 1});

    // Fashion-MNIST is balanced: 6,000 of each class in train, 1,000 in test.
    const auto train = class_counts(splits.train.labels);
    const auto validation = class_counts(splits.validation.labels);
    for (std::size_t c = 0; c < 10; ++c) {
        CAPTURE(c);
        CHECK(train[c] + validation[c] == 6000);
    }
    CHECK(class_counts(splits.test.labels) == std::array<int, 10>{1000, 1000, 1000, 1000, 1000,
                                                                  1000, 1000, 1000, 1000, 1000});
}
