#pragma once

/// @file
/// @brief Library version. CMake reads the numbers below; keep the format.

/// @brief Major version: changes that break code written for an earlier one.
#define POISSON_NOISE_VERSION_MAJOR 0
/// @brief Minor version: additions. The CMake package satisfies a `find_package` request
/// only of the same major and minor version (`SameMinorVersion`).
#define POISSON_NOISE_VERSION_MINOR 1
/// @brief Patch version: fixes that change no interface.
#define POISSON_NOISE_VERSION_PATCH 0

/// @brief Poisson noise layers and their policies: gradient estimators, k rules, temperature
/// schedules and RNG providers, with the Poisson pmf and samplers they use.
namespace poisson {

/// @brief The library version as "major.minor.patch".
inline constexpr const char* version = "0.1.0";

}  // namespace poisson
