// Reads the MNIST subset bundled in examples/data/mnist-10k (path from CMake).

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include <xtensor/xsort.hpp>

#include "poisson/data/idx.hpp"
#include "poisson/data/mnist.hpp"

TEST_CASE("load_mnist: the bundled 10k subset has MNIST's first labels and an 8000/1000/1000 "
          "split") {
    const auto splits = poisson::data::load_mnist(POISSON_MNIST_10K_DIR);
    CHECK(splits.train.images.shape() == std::vector<std::size_t>{8000, 28, 28, 1});
    CHECK(splits.validation.images.shape() == std::vector<std::size_t>{1000, 28, 28, 1});
    CHECK(splits.test.images.shape() == std::vector<std::size_t>{1000, 28, 28, 1});
    CHECK(splits.validation.size() == 1000);
    CHECK(splits.test.size() == 1000);
    // The first ten labels of the MNIST training file.
    const std::vector<std::int32_t> first(splits.train.labels.begin(),
                                          splits.train.labels.begin() + 10);
    CHECK(first == std::vector<std::int32_t>{5, 0, 4, 1, 9, 2, 1, 3, 1, 4});
    CHECK(xt::amin(splits.train.images)() == 0.0f);
    CHECK(xt::amax(splits.train.images)() == 1.0f);
}

TEST_CASE("read_idx: the bundled images file is 10000x28x28 unsigned bytes") {
    const auto images =
        poisson::data::read_idx_images(POISSON_MNIST_10K_DIR "/train-images-idx3-ubyte.gz");
    CHECK(images.shape == std::vector<std::size_t>{10000, 28, 28});
    CHECK(images.values.size() == 10000u * 28 * 28);
    const auto labels =
        poisson::data::read_idx_labels(POISSON_MNIST_10K_DIR "/train-labels-idx1-ubyte.gz");
    CHECK(labels.shape == std::vector<std::size_t>{10000});
}
