#pragma once

/// @file
/// @brief Shape formatting and checks shared by the layers' error messages.

#include <cstddef>
#include <string>
#include <string_view>

#include "poisson/errors.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn::detail {

/// @brief Formats a shape as `[2, 28, 28, 1]`.
template <class Shape>
std::string shape_string(const Shape& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
    }
    return out + "]";
}

/// @brief Throws `invalid_argument` unless `shape` has rank `rank`; `what` describes the
/// expected layout, e.g. `[N, H, W, C]`.
template <class Shape>
    requires requires(const Shape& s) { s.size(); s[0]; }
void require_rank(const Shape& shape, std::size_t rank, std::string_view component,
                  std::string_view what) {
    if (shape.size() != rank) {
        throw invalid_argument(std::string(component) + ": input has shape " +
                               shape_string(shape) + ", expected rank " + std::to_string(rank) +
                               " " + std::string(what));
    }
}

/// @brief Throws `invalid_argument` unless `x` has rank `rank`; `what` describes the
/// expected layout, e.g. `[N, H, W, C]`.
template <class T>
void require_rank(const tensor<T>& x, std::size_t rank, std::string_view component,
                  std::string_view what) {
    require_rank(x.shape(), rank, component, what);
}

/// @brief Throws `invalid_argument` unless the gradient `g` has `shape`, that of the last
/// output.
template <class T, class Shape>
void require_shape(const tensor<T>& g, const Shape& shape, std::string_view component) {
    if (g.shape() != shape) {
        throw invalid_argument(std::string(component) + ": output gradient has shape " +
                               shape_string(g.shape()) + ", expected the output shape " +
                               shape_string(shape));
    }
}

/// @brief Throws `invalid_argument` unless the gradient `g` has the shape of the last
/// output `y`: backward must follow the forward whose output it differentiates.
template <class T>
void require_same_shape(const tensor<T>& g, const tensor<T>& y, std::string_view component) {
    require_shape(g, y.shape(), component);
}

}  // namespace poisson::nn::detail
