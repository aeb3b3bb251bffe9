#pragma once

/// @file
/// @brief k rule with a guaranteed truncation error.

#include <cmath>
#include <cstddef>
#include <string>

#include "poisson/detail/format.hpp"
#include "poisson/errors.hpp"
#include "poisson/math/poisson_pmf.hpp"

namespace poisson {

/// @brief The smallest `k` with `P(X > k; m) <= eps`, `m` the largest rate of the batch.
///
/// Every element's rate is at most `m` and the Poisson tail grows with the rate, so no element
/// loses more than `eps` of its mass to the truncation.
class tail_bound {
public:
    /// @pre `0 < eps < 1`.
    explicit tail_bound(double eps = 1e-6) : m_eps(eps) {
        if (!(eps > 0.0 && eps < 1.0)) {
            throw invalid_argument("tail_bound: eps is " + detail::to_text(eps) +
                                   ", expected 0 < eps < 1");
        }
    }

    /// @brief `poisson_tail_quantile(max_rate, eps)`: the smallest `k` with
    /// `P(X > k; max_rate) <= eps`; 0 for `max_rate = 0`.
    /// @pre `max_rate` finite and `>= 0`.
    std::size_t select_k(double max_rate) const { return poisson_tail_quantile(max_rate, m_eps); }

    /// @brief The largest truncated mass allowed at the batch's largest rate.
    double eps() const noexcept { return m_eps; }

private:
    double m_eps;
};

}  // namespace poisson
