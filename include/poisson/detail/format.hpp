#pragma once

/// @file
/// @brief Number formatting for error messages.

#include <cstddef>
#include <sstream>
#include <string>

namespace poisson::detail {

/// Formats a number the way `%g` does (`1e-06`, `-0.5`, `nan`), for error messages.
template <class T>
std::string to_text(T value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

/// Formats a shape as `[2,3,4]`.
template <class Shape>
std::string shape_to_text(const Shape& shape) {
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i) {
        out << (i ? "," : "") << shape[i];
    }
    out << ']';
    return out.str();
}

}  // namespace poisson::detail
