#pragma once

/// @file
/// @brief Mini-batches: a shuffled epoch order, and copying chosen images into reused buffers.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "poisson/data/dataset.hpp"
#include "poisson/errors.hpp"

namespace poisson::data {

/// @brief A uniform integer in [0, bound) from a 64-bit engine, by rejection: draws below
/// `2^64 mod bound` are redrawn, so every value has exactly `floor(2^64 / bound)` preimages.
///
/// Specified by the engine's output alone (unlike `std::uniform_int_distribution`, whose
/// algorithm each standard library chooses), so results agree across libraries.
/// @pre `bound > 0`, else poisson::invalid_argument.
template <class Engine>
    requires std::uniform_random_bit_generator<Engine> &&
             (Engine::min() == 0 && Engine::max() == std::numeric_limits<std::uint64_t>::max())
std::uint64_t uniform_below(Engine& engine, std::uint64_t bound) {
    if (bound == 0) {
        throw invalid_argument("uniform_below: bound is 0, it must be positive");
    }
    // 2^64 mod bound, computed in 64-bit arithmetic as (2^64 - bound) mod bound.
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        const std::uint64_t r = engine();
        if (r >= threshold) {
            return r % bound;
        }
    }
}

/// @brief Shuffles `indices` in place with Fisher-Yates: for i = n-1 down to 1, swap
/// element i with element `uniform_below(engine, i + 1)`. All n! orders are equally likely.
/// (Durstenfeld, "Algorithm 235: Random permutation", Communications of the ACM, 1964.)
template <class Engine>
void shuffle_indices(std::span<std::size_t> indices, Engine& engine) {
    for (std::size_t i = indices.size(); i > 1; --i) {
        const auto j = static_cast<std::size_t>(uniform_below(engine, i));
        std::swap(indices[i - 1], indices[j]);
    }
}

/// @brief The order in which one epoch visits `count` examples: 0 to count-1 shuffled by
/// `shuffle_indices`. Passing the same engine epoch after epoch gives a new order each
/// epoch, reproducible from the engine's seed on every standard library.
template <class Engine = std::mt19937_64>
std::vector<std::size_t> epoch_order(std::size_t count, Engine& engine) {
    std::vector<std::size_t> order(count);
    std::iota(order.begin(), order.end(), std::size_t{0});
    shuffle_indices(std::span<std::size_t>(order), engine);
    return order;
}

/// @brief Copies the examples `indices` of `source`, in that order, into `images`
/// ([B, H, W, 1]) and `labels` ([B]), B = indices.size(). Buffers that already have those
/// shapes are filled in place, so one pair of buffers serves a whole run without
/// allocating; otherwise they are resized (a shorter last batch).
/// @throws poisson::invalid_argument if `source` is not [N, H, W, C] images with N labels, or
/// naming the first index that is not below `source.size()`; the buffers are then unchanged.
inline void gather_batch(const dataset& source, std::span<const std::size_t> indices,
                         xt::xarray<float>& images, xt::xarray<std::int32_t>& labels) {
    if (source.images.dimension() != 4 || source.labels.dimension() != 1 ||
        source.images.shape()[0] != source.labels.size()) {
        throw invalid_argument("gather_batch: the source has images of rank " +
                               std::to_string(source.images.dimension()) + " and labels of rank " +
                               std::to_string(source.labels.dimension()) +
                               "; it needs [N, H, W, C] images and N labels");
    }
    const auto bad = std::ranges::find_if(indices, [&](std::size_t i) {
        return i >= source.size();
    });
    if (bad != indices.end()) {
        throw invalid_argument("gather_batch: index " + std::to_string(*bad) + " at position " +
                               std::to_string(bad - indices.begin()) + " is not below the " +
                               std::to_string(source.size()) + " examples");
    }
    const auto& shape = source.images.shape();
    const std::vector<std::size_t> batch_shape = {indices.size(), shape[1], shape[2], shape[3]};
    if (!std::ranges::equal(images.shape(), batch_shape)) {
        images.resize(batch_shape);
    }
    if (labels.dimension() != 1 || labels.size() != indices.size()) {
        labels.resize({indices.size()});
    }
    const std::size_t pixels = shape[1] * shape[2] * shape[3];
    for (std::size_t b = 0; b < indices.size(); ++b) {
        std::memcpy(images.data() + b * pixels, source.images.data() + indices[b] * pixels,
                    pixels * sizeof(float));
        labels(b) = source.labels(indices[b]);
    }
}

}  // namespace poisson::data
