#pragma once

/// @file
/// @brief k rule: the same k for every batch.

#include <cstddef>

namespace poisson {

/// @brief Keeps the counts `0..k` whatever the rates (the report's Figure 1 uses `k = 7` at
/// rate 5). Mass above `k` is lost: `P(X > 7; 5) = 0.133`.
class fixed_k {
public:
    /// @brief Keeps the counts `0..k`, `k + 1` categories; `k = 0` makes every sample 0.
    explicit constexpr fixed_k(std::size_t k = 20) noexcept : m_k(k) {}

    /// @brief `k`, whatever the batch's largest rate.
    constexpr std::size_t select_k(double /*max_rate*/) const noexcept { return m_k; }
    /// @brief The largest count kept.
    constexpr std::size_t k() const noexcept { return m_k; }

private:
    std::size_t m_k;
};

}  // namespace poisson
