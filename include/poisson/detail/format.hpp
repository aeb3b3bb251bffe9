#pragma once

/// @file
/// @brief Number formatting for error messages.

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

}  // namespace poisson::detail
