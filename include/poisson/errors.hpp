#pragma once

/// @file
/// @brief Exception types thrown by the library.
///
/// Every message starts with the component that raised it and names the offending value,
/// e.g. `noise_layer "conv1": rate at index 17 is -0.5 (rates must be finite and >= 0)`.

#include <stdexcept>
#include <string>

namespace poisson {

/// @brief A caller passed an argument outside the documented domain: a negative or NaN rate,
/// a non-positive temperature, a tensor of the wrong shape, an impossible setting.
class invalid_argument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// @brief A file could not be read or written, or its contents are malformed or truncated.
class io_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief Training cannot continue: a loss or gradient became NaN or infinite.
class numerical_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace poisson
