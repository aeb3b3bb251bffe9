#pragma once

/// @file
/// @brief Temperature schedule: linear decay down to a floor.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "poisson/temperature/constant.hpp"

namespace poisson {

/// @brief `tau(t) = max(tau_min, tau0 - slope * t)`, with `t` rounded down to a multiple of
/// `every` steps.
class linear_annealing {
public:
    /// @pre `tau0 > 0`, `tau_min > 0`, `slope >= 0` (all finite), `every >= 1`.
    linear_annealing(double tau0, double tau_min, double slope, std::uint64_t every = 1)
        : m_tau0(tau0), m_tau_min(tau_min), m_slope(slope), m_every(every) {
        detail::require_positive_temperature("linear_annealing", "tau0", tau0);
        detail::require_positive_temperature("linear_annealing", "tau_min", tau_min);
        if (!(slope >= 0.0) || !std::isfinite(slope)) {
            throw invalid_argument("linear_annealing: slope is " + detail::to_text(slope) +
                                   ", expected a finite value >= 0");
        }
        if (every == 0) {
            throw invalid_argument("linear_annealing: every is 0, expected at least 1 step");
        }
    }

    /// @brief `max(tau_min, tau0 - slope * t)` with `t = step - step % every`.
    double temperature(std::uint64_t step) const {
        const auto t = static_cast<double>(step - step % m_every);
        return std::max(m_tau_min, m_tau0 - m_slope * t);
    }

private:
    double m_tau0;
    double m_tau_min;
    double m_slope;
    std::uint64_t m_every;
};

}  // namespace poisson
