#pragma once

/// @file
/// @brief Temperature schedule: one value for the whole run.

#include <cmath>
#include <cstdint>

#include "poisson/detail/format.hpp"
#include "poisson/errors.hpp"

namespace poisson {

namespace detail {

inline void require_positive_temperature(const char* where, const char* what, double tau) {
    if (!(tau > 0.0) || !std::isfinite(tau)) {
        throw invalid_argument(std::string(where) + ": " + what + " is " + to_text(tau) +
                               ", expected a finite temperature > 0");
    }
}

}  // namespace detail

/// @brief `tau(t) = tau` for every step.
class constant_temperature {
public:
    /// @pre `tau > 0` and finite.
    explicit constant_temperature(double tau = 1.0) : m_tau(tau) {
        detail::require_positive_temperature("constant_temperature", "tau", tau);
    }

    /// @brief `tau`, at every step.
    double temperature(std::uint64_t /*step*/) const noexcept { return m_tau; }

private:
    double m_tau;
};

}  // namespace poisson
