#pragma once

/// @file
/// @brief Relaxed (soft) Concrete estimator.

#include <concepts>
#include <span>

#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"

namespace poisson {

/// @brief Forward: the relaxed sample `x~ = sum_i i y_i` itself, a real number in `[0, k]`,
/// `y = softmax((log p + g) / tau)` over the counts `0..k`. Backward: its exact derivative
/// with the Gumbels held fixed, `Var_y(i) / (tau * rate)`.
///
/// Unbiased for the relaxed objective, biased for the discrete one; as `tau -> 0` it tends to
/// the straight-through estimator's forward. Maddison, Mnih and Teh, "The Concrete
/// distribution: a continuous relaxation of discrete random variables" (ICLR 2017).
class relaxed_gumbel : public detail::gumbel_softmax_estimator<true> {};

}  // namespace poisson
