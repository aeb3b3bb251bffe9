#pragma once

/// @file
/// @brief A labelled image set held in memory.

#include <cstddef>
#include <cstdint>

#include <xtensor/xarray.hpp>

/// @brief Data sets: IDX files, MNIST-style folders, shuffled epochs and mini-batches.
namespace poisson::data {

/// @brief Images and their class labels, one label per image.
struct dataset {
    /// [N, H, W, 1] (NHWC, one channel), pixel values scaled to [0, 1].
    xt::xarray<float> images;
    /// [N], class indices 0 to 9.
    xt::xarray<std::int32_t> labels;

    /// @brief The number of images N.
    std::size_t size() const noexcept { return labels.size(); }
};

}  // namespace poisson::data
