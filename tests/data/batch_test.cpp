#include "poisson/data/batch.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace {

/// A 64-bit "engine" that returns a fixed list of values, to check draws by hand.
struct scripted_engine {
    using result_type = std::uint64_t;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return std::numeric_limits<std::uint64_t>::max(); }
    result_type operator()() { return values.at(next++); }

    std::vector<std::uint64_t> values;
    std::size_t next = 0;
};

/// Five 2x2 one-channel images; every pixel of image i is 10 * i, its label 9 - i.
poisson::data::dataset five_images() {
    poisson::data::dataset set;
    set.images = xt::xarray<float>::from_shape({5, 2, 2, 1});
    set.labels = xt::xarray<std::int32_t>::from_shape({5});
    for (std::size_t i = 0; i < 5; ++i) {
        for (std::size_t p = 0; p < 4; ++p) {
            set.images.data()[i * 4 + p] = 10.0f * static_cast<float>(i);
        }
        set.labels(i) = 9 - static_cast<std::int32_t>(i);
    }
    return set;
}

}  // namespace

TEST_CASE("uniform_below: takes the remainder and redraws below 2^64 mod bound") {
    scripted_engine three{{0, 5}};  // 2^64 mod 3 = 1, so 0 is redrawn
    CHECK(poisson::data::uniform_below(three, 3) == 2);
    CHECK(three.next == 2);

    scripted_engine four{{7}};  // 2^64 mod 4 = 0: nothing is redrawn
    CHECK(poisson::data::uniform_below(four, 4) == 3);

    // bound 2^63 + 1: 2^64 mod bound = 2^63 - 1
    const std::uint64_t bound = (std::uint64_t{1} << 63) + 1;
    scripted_engine big{{(std::uint64_t{1} << 63) - 2, (std::uint64_t{1} << 63) + 5}};
    CHECK(poisson::data::uniform_below(big, bound) == 4);
    CHECK(big.next == 2);

    scripted_engine one{{12345}};
    CHECK(poisson::data::uniform_below(one, 1) == 0);
    CHECK_THROWS_AS(poisson::data::uniform_below(one, 0), poisson::invalid_argument);
}

TEST_CASE("shuffle_indices: Fisher-Yates from the last position down, by hand") {
    // i = 4: j = 6 mod 4 = 2, swap positions 3 and 2 -> 0 1 3 2
    // i = 3: j = 4 mod 3 = 1, swap positions 2 and 1 -> 0 3 1 2
    // i = 2: j = 1 mod 2 = 1, swap position 1 with itself -> 0 3 1 2
    scripted_engine engine{{6, 4, 1}};
    std::vector<std::size_t> order = {0, 1, 2, 3};
    poisson::data::shuffle_indices(order, engine);
    CHECK(order == std::vector<std::size_t>{0, 3, 1, 2});
    CHECK(engine.next == 3);
}

TEST_CASE("epoch_order: a permutation, new each epoch, the same for the same seed") {
    std::mt19937_64 a(7);
    std::mt19937_64 b(7);
    const auto first = poisson::data::epoch_order(1000, a);
    const auto second = poisson::data::epoch_order(1000, a);
    CHECK(first == poisson::data::epoch_order(1000, b));
    CHECK(first != second);
    std::vector<std::size_t> sorted = first;
    std::ranges::sort(sorted);
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        REQUIRE(sorted[i] == i);
    }
    CHECK(poisson::data::epoch_order(0, a).empty());
    CHECK(poisson::data::epoch_order(1, a) == std::vector<std::size_t>{0});
}

TEST_CASE("epoch_order: the six orders of three elements are equally likely") {
    // Chi-square test, 5 degrees of freedom, fixed seed; the critical value 25.74 is the
    // upper 1e-4 quantile, so a correct shuffle fails with probability 1e-4 per seed.
    std::mt19937_64 engine(20240611);
    std::map<std::vector<std::size_t>, int> counts;
    constexpr int trials = 60000;
    for (int t = 0; t < trials; ++t) {
        ++counts[poisson::data::epoch_order(3, engine)];
    }
    REQUIRE(counts.size() == 6);
    double chi2 = 0.0;
    const double expected = trials / 6.0;
    for (const auto& [order, n] : counts) {
        chi2 += (n - expected) * (n - expected) / expected;
    }
    CAPTURE(chi2);
    CHECK(chi2 < 25.74);
}

TEST_CASE("gather_batch: copies the chosen examples in order into reused buffers") {
    const auto set = five_images();
    xt::xarray<float> images;
    xt::xarray<std::int32_t> labels;
    const std::array<std::size_t, 3> first = {3, 0, 3};
    poisson::data::gather_batch(set, first, images, labels);
    REQUIRE(images.shape() == std::vector<std::size_t>{3, 2, 2, 1});
    CHECK(images(0, 1, 1, 0) == 30.0f);
    CHECK(images(1, 0, 1, 0) == 0.0f);
    CHECK(images(2, 1, 0, 0) == 30.0f);
    CHECK(labels == xt::xarray<std::int32_t>{6, 9, 6});

    const float* storage = images.data();
    const std::int32_t* label_storage = labels.data();
    const std::array<std::size_t, 3> second = {4, 1, 2};
    poisson::data::gather_batch(set, second, images, labels);
    CHECK(images.data() == storage);  // same shape: filled in place
    CHECK(labels.data() == label_storage);
    CHECK(images(0, 0, 0, 0) == 40.0f);
    CHECK(images(2, 1, 1, 0) == 20.0f);
    CHECK(labels == xt::xarray<std::int32_t>{5, 8, 7});

    const std::array<std::size_t, 1> last = {1};
    poisson::data::gather_batch(set, last, images, labels);
    CHECK(images.shape() == std::vector<std::size_t>{1, 2, 2, 1});
    CHECK(labels == xt::xarray<std::int32_t>{8});
}

TEST_CASE("gather_batch: an index past the end is refused and the buffers are untouched") {
    const auto set = five_images();
    xt::xarray<float> images = xt::zeros<float>({2, 2, 2, 1});
    xt::xarray<std::int32_t> labels = xt::zeros<std::int32_t>({2});
    const std::array<std::size_t, 2> bad = {1, 5};
    CHECK_THROWS_WITH_AS(poisson::data::gather_batch(set, bad, images, labels),
                         "gather_batch: index 5 at position 1 is not below the 5 examples",
                         poisson::invalid_argument);
    CHECK(images == xt::zeros<float>({2, 2, 2, 1}));
    CHECK(labels == xt::zeros<std::int32_t>({2}));
}
