#pragma once

/// @file
/// @brief The k-rule policy axis: how many categories a truncated Poisson keeps.

#include <concepts>
#include <cstddef>

namespace poisson {

/// @brief A k rule maps the largest rate of a batch to the largest count `k` kept, so that
/// samples are drawn from Poisson truncated to `0..k` (k + 1 categories).
///
/// `rule.select_k(max_rate)` is called once per training forward pass with the batch maximum
/// (finite, `>= 0`). The layer, not the rule, enforces its `max_k` cap, so a user rule needs
/// no guard of its own.
template <class R>
concept k_rule = requires(const R& rule, double max_rate) {
    { rule.select_k(max_rate) } -> std::convertible_to<std::size_t>;
};

}  // namespace poisson
