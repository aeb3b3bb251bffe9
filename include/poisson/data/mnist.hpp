#pragma once

/// @file
/// @brief Loading an MNIST-style folder of IDX files into train, validation and test sets.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include <xtensor/xarray.hpp>

#include "poisson/data/dataset.hpp"
#include "poisson/data/idx.hpp"
#include "poisson/errors.hpp"

namespace poisson::data {

/// @brief The three sets `load_mnist` returns.
struct mnist_splits {
    dataset train;       ///< the first training images
    dataset validation;  ///< the training images after `train`
    dataset test;        ///< the t10k images, or the last tenth of the training file
};

/// @brief Options of `load_mnist`.
struct mnist_options {
    /// Number of validation images, taken from the end of the training images; by default
    /// 5,000 of 60,000 or else a tenth. At most the training images minus one.
    std::optional<std::size_t> validation_count;
    /// How each file is read (decompression, size cap).
    idx_options idx;
};

namespace detail {

/// The file for `base` in `folder`: `base` itself, else `base.gz`, else nothing.
inline std::optional<std::filesystem::path> find_idx(const std::filesystem::path& folder,
                                                     const std::string& base) {
    std::error_code ec;
    for (const std::string& name : {base, base + ".gz"}) {
        if (std::filesystem::is_regular_file(folder / name, ec)) {
            return folder / name;
        }
    }
    return std::nullopt;
}

inline std::string mnist_file_list() {
    return "train-images-idx3-ubyte and train-labels-idx1-ubyte, optionally "
           "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or with .gz";
}

/// Images `first` to `first + count - 1` with their labels, pixels scaled by 1/255.
inline dataset make_dataset(const idx_file& images, const idx_file& labels, std::size_t first,
                            std::size_t count) {
    const std::size_t rows = images.shape[1];
    const std::size_t columns = images.shape[2];
    const std::size_t pixels = rows * columns;
    dataset set;
    set.images = xt::xarray<float>::from_shape({count, rows, columns, 1});
    set.labels = xt::xarray<std::int32_t>::from_shape({count});
    const std::uint8_t* source = images.values.data() + first * pixels;
    float* target = set.images.data();
    for (std::size_t i = 0; i < count * pixels; ++i) {
        target[i] = static_cast<float>(source[i]) / 255.0f;
    }
    for (std::size_t i = 0; i < count; ++i) {
        set.labels(i) = labels.values[first + i];
    }
    return set;
}

/// Reads one images file and its labels file and checks that they belong together.
inline std::pair<idx_file, idx_file> read_pair(const std::string& context,
                                               const std::filesystem::path& images_path,
                                               const std::filesystem::path& labels_path,
                                               const idx_options& options) {
    idx_file images = read_idx_images(images_path, options);
    idx_file labels = read_idx_labels(labels_path, options);
    if (images.shape[0] != labels.shape[0]) {
        throw io_error(context + ": " + images_path.filename().string() + " holds " +
                       std::to_string(images.shape[0]) + " images but " +
                       labels_path.filename().string() + " holds " +
                       std::to_string(labels.shape[0]) + " labels");
    }
    if (images.shape[0] == 0 || images.shape[1] == 0 || images.shape[2] == 0) {
        throw io_error(context + ": " + images_path.filename().string() + " holds no pixels " +
                       "(sizes " + shape_text(images.shape) + ")");
    }
    return {std::move(images), std::move(labels)};
}

/// The default number of validation images when test files exist: MNIST's usual 5,000 of
/// 60,000, else a tenth.
inline std::size_t default_validation(std::size_t training) {
    return training == 60000 ? 5000 : training / 10;
}

}  // namespace detail

/// @brief Loads `folder` (train files, optionally t10k files; raw or gzipped) and splits it.
///
/// The files are those of the MNIST database (LeCun, Bottou, Bengio and Haffner,
/// "Gradient-based learning applied to document recognition", Proc. IEEE, 1998), or any set
/// in the same format, e.g. Fashion-MNIST.
///
/// Images become [N, H, W, 1] floats `pixel / 255` for whatever H x W the files declare;
/// labels become int32. With t10k files, test = t10k and validation = the last 5,000
/// training images if there are 60,000, else the last tenth. Without t10k files the
/// training file is split 80/10/10 in file order: train first, then validation, then test
/// (8,000 / 1,000 / 1,000 of 10,000). `options.validation_count` overrides the validation
/// size in both cases (the test set is unchanged).
/// @throws poisson::io_error naming the folder and the files it looked for if they are
/// missing, or naming the file and the problem if one is malformed, if image and label
/// counts differ, or if train and t10k images differ in size.
/// @throws poisson::invalid_argument if `options.validation_count` leaves no training image.
inline mnist_splits load_mnist(const std::filesystem::path& folder,
                               const mnist_options& options = {}) {
    const std::string context = "load_mnist \"" + folder.string() + "\"";
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) {
        throw io_error(context + ": no such folder; it should hold " + detail::mnist_file_list());
    }
    const auto train_images = detail::find_idx(folder, "train-images-idx3-ubyte");
    const auto train_labels = detail::find_idx(folder, "train-labels-idx1-ubyte");
    const auto test_images = detail::find_idx(folder, "t10k-images-idx3-ubyte");
    const auto test_labels = detail::find_idx(folder, "t10k-labels-idx1-ubyte");
    if (!train_images || !train_labels) {
        throw io_error(context + ": no " +
                       (train_images ? "train-labels-idx1-ubyte" : "train-images-idx3-ubyte") +
                       "[.gz] in it; it should hold " + detail::mnist_file_list());
    }
    if (test_images.has_value() != test_labels.has_value()) {
        throw io_error(context + ": it has " +
                       (test_images ? "t10k-images-idx3-ubyte but no t10k-labels-idx1-ubyte"
                                    : "t10k-labels-idx1-ubyte but no t10k-images-idx3-ubyte") +
                       "[.gz]; the test files come as a pair");
    }
    const auto [images, labels] =
        detail::read_pair(context, *train_images, *train_labels, options.idx);
    const std::size_t total = images.shape[0];

    mnist_splits splits;
    std::size_t test_count = 0;
    if (test_images) {
        const auto [t_images, t_labels] =
            detail::read_pair(context, *test_images, *test_labels, options.idx);
        if (t_images.shape[1] != images.shape[1] || t_images.shape[2] != images.shape[2]) {
            throw io_error(context + ": test images are " + std::to_string(t_images.shape[1]) +
                           "x" + std::to_string(t_images.shape[2]) + ", training images " +
                           std::to_string(images.shape[1]) + "x" +
                           std::to_string(images.shape[2]));
        }
        splits.test = detail::make_dataset(t_images, t_labels, 0, t_images.shape[0]);
    } else {
        test_count = total / 10;
    }
    const std::size_t available = total - test_count;
    // Without test files validation is a tenth of all images, like the test set.
    const std::size_t validation_count = options.validation_count.value_or(
        test_images ? detail::default_validation(total) : total / 10);
    if (validation_count >= available) {
        throw invalid_argument(context + ": validation_count " +
                               std::to_string(validation_count) + " leaves no training image (" +
                               std::to_string(available) + " available, at most " +
                               std::to_string(available - 1) + " for validation)");
    }
    const std::size_t train_count = available - validation_count;
    splits.train = detail::make_dataset(images, labels, 0, train_count);
    splits.validation = detail::make_dataset(images, labels, train_count, validation_count);
    if (!test_images) {
        splits.test = detail::make_dataset(images, labels, available, test_count);
    }
    return splits;
}

}  // namespace poisson::data
