#pragma once

/// @file
/// @brief The temperature policy axis: the softmax temperature as a function of the step.

#include <concepts>
#include <cstdint>

namespace poisson {

/// @brief A temperature schedule maps the layer's training-step count (0 for the first
/// training forward pass) to the temperature `tau > 0` of the Gumbel-Softmax relaxation.
///
/// A schedule is a pure function of the step: the layer owns the step counter and saves it
/// in checkpoints, so a resumed run sees the same temperatures. The layer checks every value
/// it receives and throws if it is not a finite positive number.
template <class S>
concept temperature_schedule = requires(const S& schedule, std::uint64_t step) {
    { schedule.temperature(step) } -> std::convertible_to<double>;
};

}  // namespace poisson
