#include "poisson/data/mnist.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "idx_test_files.hpp"

namespace {

namespace fs = std::filesystem;
using idx_test::bytes;
using poisson::data::load_mnist;

/// `count` images of rows x columns whose every pixel is the image's number (mod 256), and
/// labels equal to the image's number mod 10, so each example is recognisable.
void write_pair(const fs::path& folder, const std::string& prefix, std::uint32_t count,
                std::uint32_t rows, std::uint32_t columns, bool gzipped) {
    bytes pixels;
    bytes labels;
    for (std::uint32_t i = 0; i < count; ++i) {
        pixels.insert(pixels.end(), rows * columns, static_cast<std::uint8_t>(i));
        labels.push_back(static_cast<std::uint8_t>(i % 10));
    }
    const bytes images_file = idx_test::idx({count, rows, columns}, pixels);
    const bytes labels_file = idx_test::idx({count}, labels);
    const std::string ext = gzipped ? ".gz" : "";
    idx_test::write(folder / (prefix + "-images-idx3-ubyte" + ext),
                    gzipped ? idx_test::gzip(images_file) : images_file);
    idx_test::write(folder / (prefix + "-labels-idx1-ubyte" + ext),
                    gzipped ? idx_test::gzip(labels_file) : labels_file);
}

/// Checks that `set` holds the consecutive examples first, first + 1, ... of write_pair.
void check_examples(const poisson::data::dataset& set, std::size_t first, std::size_t count,
                    std::size_t rows, std::size_t columns) {
    REQUIRE(set.images.shape() == std::vector<std::size_t>{count, rows, columns, 1});
    REQUIRE(set.labels.shape() == std::vector<std::size_t>{count});
    for (std::size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        const float pixel = static_cast<float>((first + i) % 256) / 255.0f;
        CHECK(set.images(i, rows - 1, columns - 1, 0) == pixel);
        CHECK(set.images(i, 0, 0, 0) == pixel);
        CHECK(set.labels(i) == static_cast<std::int32_t>((first + i) % 10));
    }
}

}  // namespace

TEST_CASE("load_mnist: without test files the training file splits 80/10/10 in file order") {
    const fs::path folder = idx_test::scratch_folder("mnist_8010");
    write_pair(folder, "train", 50, 3, 2, false);
    const auto splits = load_mnist(folder);
    check_examples(splits.train, 0, 40, 3, 2);
    check_examples(splits.validation, 40, 5, 3, 2);
    check_examples(splits.test, 45, 5, 3, 2);
}

TEST_CASE("load_mnist: pixels are scaled to [0, 1] exactly at both ends") {
    const fs::path folder = idx_test::scratch_folder("mnist_scale");
    idx_test::write(folder / "train-images-idx3-ubyte", idx_test::idx({1, 1, 3}, {0, 51, 255}));
    idx_test::write(folder / "train-labels-idx1-ubyte", idx_test::idx({1}, {4}));
    const auto splits = load_mnist(folder);
    CHECK(splits.train.images(0, 0, 0, 0) == 0.0f);
    CHECK(splits.train.images(0, 0, 1, 0) == 0.2f);  // 51 / 255 is 0.2, correctly rounded
    CHECK(splits.train.images(0, 0, 2, 0) == 1.0f);
    CHECK(splits.train.labels(0) == 4);
    CHECK(splits.validation.size() == 0);
    CHECK(splits.test.size() == 0);
}

TEST_CASE("load_mnist: with t10k files the test set is t10k and validation the last tenth") {
    const fs::path folder = idx_test::scratch_folder("mnist_t10k");
    write_pair(folder, "train", 30, 5, 7, true);
    write_pair(folder, "t10k", 4, 5, 7, false);
    const auto splits = load_mnist(folder);
    check_examples(splits.train, 0, 27, 5, 7);
    check_examples(splits.validation, 27, 3, 5, 7);
    check_examples(splits.test, 0, 4, 5, 7);
}

TEST_CASE("load_mnist: the validation count can be overridden, up to the training size - 1") {
    const fs::path folder = idx_test::scratch_folder("mnist_override");
    write_pair(folder, "train", 20, 2, 2, false);
    poisson::data::mnist_options options;
    options.validation_count = 5;
    auto splits = load_mnist(folder, options);
    check_examples(splits.train, 0, 13, 2, 2);
    check_examples(splits.validation, 13, 5, 2, 2);
    check_examples(splits.test, 18, 2, 2, 2);

    options.validation_count = 17;  // 18 images before the test tenth
    splits = load_mnist(folder, options);
    CHECK(splits.train.size() == 1);
    options.validation_count = 18;
    CHECK_THROWS_WITH_AS(load_mnist(folder, options),
                         doctest::Contains("validation_count 18 leaves no training image (18 "
                                           "available, at most 17 for validation)"),
                         poisson::invalid_argument);
    options.validation_count = 0;
    CHECK(load_mnist(folder, options).train.size() == 18);
}

TEST_CASE("load_mnist: a folder without the IDX files names the folder and the files") {
    const fs::path folder = idx_test::scratch_folder("mnist_empty");
    const std::string expected = "load_mnist \"" + folder.string() +
                                 "\": no train-images-idx3-ubyte[.gz] in it; it should hold "
                                 "train-images-idx3-ubyte and train-labels-idx1-ubyte, "
                                 "optionally t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, "
                                 "each raw or with .gz";
    CHECK_THROWS_WITH_AS(load_mnist(folder), expected.c_str(), poisson::io_error);
    CHECK_THROWS_WITH_AS(load_mnist(folder / "absent"),
                         doctest::Contains("absent\": no such folder"), poisson::io_error);
}

TEST_CASE("load_mnist: a missing labels file or half of the test pair is refused") {
    const fs::path folder = idx_test::scratch_folder("mnist_partial");
    write_pair(folder, "train", 10, 2, 2, false);
    fs::remove(folder / "train-labels-idx1-ubyte");
    CHECK_THROWS_WITH_AS(load_mnist(folder), doctest::Contains("no train-labels-idx1-ubyte[.gz]"),
                         poisson::io_error);
    write_pair(folder, "train", 10, 2, 2, false);
    write_pair(folder, "t10k", 10, 2, 2, true);
    fs::remove(folder / "t10k-labels-idx1-ubyte.gz");
    CHECK_THROWS_WITH_AS(load_mnist(folder),
                         doctest::Contains("t10k-images-idx3-ubyte but no t10k-labels-idx1-ubyte"),
                         poisson::io_error);
}

TEST_CASE("load_mnist: image and label counts that differ are refused") {
    const fs::path folder = idx_test::scratch_folder("mnist_counts");
    write_pair(folder, "train", 10, 2, 2, false);
    idx_test::write(folder / "train-labels-idx1-ubyte", idx_test::idx({9}, bytes(9, 1)));
    CHECK_THROWS_WITH_AS(load_mnist(folder),
                         doctest::Contains("train-images-idx3-ubyte holds 10 images but "
                                           "train-labels-idx1-ubyte holds 9 labels"),
                         poisson::io_error);
}

TEST_CASE("load_mnist: files swapped between images and labels are refused") {
    const fs::path folder = idx_test::scratch_folder("mnist_swapped");
    write_pair(folder, "train", 10, 2, 2, false);
    fs::rename(folder / "train-images-idx3-ubyte", folder / "x");
    fs::rename(folder / "train-labels-idx1-ubyte", folder / "train-images-idx3-ubyte");
    fs::rename(folder / "x", folder / "train-labels-idx1-ubyte");
    CHECK_THROWS_WITH_AS(load_mnist(folder), doctest::Contains("a labels file, not images"),
                         poisson::io_error);
}

TEST_CASE("load_mnist: test images of another size than the training images are refused") {
    const fs::path folder = idx_test::scratch_folder("mnist_sizes");
    write_pair(folder, "train", 10, 4, 4, false);
    write_pair(folder, "t10k", 10, 4, 5, false);
    CHECK_THROWS_WITH_AS(load_mnist(folder),
                         doctest::Contains("test images are 4x5, training images 4x4"),
                         poisson::io_error);
}

TEST_CASE("load_mnist: a corrupt file is reported with its path") {
    const fs::path folder = idx_test::scratch_folder("mnist_corrupt");
    write_pair(folder, "train", 10, 2, 2, true);
    const fs::path labels = folder / "train-labels-idx1-ubyte.gz";
    idx_test::write(labels, bytes{0x1f, 0x8b, 8, 0});
    const std::string expected = "read_idx \"" + labels.string() + "\": the gzip data";
    CHECK_THROWS_WITH_AS(load_mnist(folder), doctest::Contains(expected.c_str()),
                         poisson::io_error);
}
