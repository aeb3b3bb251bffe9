#pragma once

/// @file
/// @brief k rule of the report: the batch maximum plus c standard deviations.

#include <cmath>
#include <cstddef>
#include <string>

#include "poisson/detail/format.hpp"
#include "poisson/errors.hpp"

namespace poisson {

/// @brief `k = ceil(m + c * sqrt(m))` with `m` the largest rate of the batch (Dutta's report,
/// section 2.0.3, with `c = 4`).
///
/// Chosen per batch, so k follows the activations as they grow during training. The truncated
/// mass at the largest rate is then at most 4e-4 for maxima from 2 to 20, at most 1e-4 from
/// 30 to 1000, and larger for small maxima: at `m = 1`, `k = 5` and `P(X > 5; 1) = 6e-4`.
/// (The rounding up of k makes it oscillate with `m` within those bounds.)
class batch_max {
public:
    /// @pre `c >= 0` and finite.
    explicit batch_max(double c = 4.0) : m_c(c) {
        if (!(c >= 0.0) || !std::isfinite(c)) {
            throw invalid_argument("batch_max: c is " + detail::to_text(c) +
                                   ", expected a finite value >= 0");
        }
    }

    /// @brief `ceil(max_rate + c * sqrt(max_rate))`; 0 for `max_rate = 0`.
    /// @pre `max_rate` finite and `>= 0` (the layer checks its rates before calling).
    std::size_t select_k(double max_rate) const {
        return static_cast<std::size_t>(std::ceil(max_rate + m_c * std::sqrt(max_rate)));
    }

    /// @brief The number of standard deviations `c` above the batch maximum.
    double c() const noexcept { return m_c; }

private:
    double m_c;
};

}  // namespace poisson
