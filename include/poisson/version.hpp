#pragma once

/// @file
/// @brief Library version. CMake reads the numbers below; keep the format.

#define POISSON_NOISE_VERSION_MAJOR 0
#define POISSON_NOISE_VERSION_MINOR 1
#define POISSON_NOISE_VERSION_PATCH 0

namespace poisson {

/// @brief The library version as "major.minor.patch".
inline constexpr const char* version = "0.1.0";

}  // namespace poisson
