#pragma once

/// @file
/// @brief Temperature schedule: exponential annealing with a floor.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "poisson/temperature/constant.hpp"

namespace poisson {

/// @brief `tau(t) = max(tau_min, tau0 * exp(-r * t))`, with `t` rounded down to a multiple of
/// `every` steps, so the temperature changes once every `every` steps.
///
/// Jang, Gu and Poole, "Categorical reparameterization with Gumbel-Softmax", ICLR 2017,
/// anneal this way (there with `tau0 = 1`, `tau_min = 0.5`, `every = 1000`).
class exponential_annealing {
public:
    /// @pre `tau0 > 0`, `tau_min > 0`, `rate >= 0` (all finite), `every >= 1`.
    exponential_annealing(double tau0, double tau_min, double rate, std::uint64_t every = 1)
        : m_tau0(tau0), m_tau_min(tau_min), m_rate(rate), m_every(every) {
        detail::require_positive_temperature("exponential_annealing", "tau0", tau0);
        detail::require_positive_temperature("exponential_annealing", "tau_min", tau_min);
        if (!(rate >= 0.0) || !std::isfinite(rate)) {
            throw invalid_argument("exponential_annealing: rate is " + detail::to_text(rate) +
                                   ", expected a finite value >= 0");
        }
        if (every == 0) {
            throw invalid_argument("exponential_annealing: every is 0, expected at least 1 step");
        }
    }

    /// @brief `max(tau_min, tau0 * exp(-rate * t))` with `t = step - step % every`.
    double temperature(std::uint64_t step) const {
        const auto t = static_cast<double>(step - step % m_every);
        return std::max(m_tau_min, m_tau0 * std::exp(-m_rate * t));
    }

private:
    double m_tau0;
    double m_tau_min;
    double m_rate;
    std::uint64_t m_every;
};

}  // namespace poisson
