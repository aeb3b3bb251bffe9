#pragma once

/// @file
/// @brief Softmax cross-entropy loss on logits and integer labels.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Mean softmax cross-entropy of a batch of logits `z` `[N, C]` against labels
/// `t` (int32, in `[0, C)`):
///
///     L = (1/N) sum_n ( logsumexp_j z[n, j] - z[n, t_n] ),
///     dL/dz[n, j] = ( softmax_j z[n, :] - [j == t_n] ) / N.
///
/// The log-sum-exp subtracts each row's maximum first, so logits of any magnitude
/// (e.g. +-5000) give finite results, and `-inf` logits contribute probability 0 and
/// gradient 0. The loss is infinite only if a label's own logit is `-inf`. This is a loss,
/// not a layer: `forward` returns `L`, `gradient()` holds `dL/dz` for the layer below.
template <class T>
class softmax_cross_entropy {
public:
    /// @brief Element type of logits and gradient.
    using value_type = T;

    /// @brief Computes and returns the mean loss; keeps the gradient and the number of
    /// correct argmax predictions. Throws `invalid_argument` if `logits` is not rank 2,
    /// the batch is empty, the label count differs from N or a label is outside `[0, C)`;
    /// throws `numerical_error` for a NaN or `+inf` logit or a row that is all `-inf`.
    T forward(const tensor<T>& logits, std::span<const std::int32_t> labels) {
        check(logits, labels);
        const std::size_t n = logits.shape(0), c = logits.shape(1);
        m_gradient.resize(logits.shape());
        m_correct = 0;
        double total = 0.0;
        for (std::size_t r = 0; r < n; ++r) {
            total += row_loss(logits.data() + r * c, c, r, labels[r], T(1) / T(n),
                              m_gradient.data() + r * c);
        }
        m_loss = static_cast<T>(total / static_cast<double>(n));
        return m_loss;
    }

    /// @brief `forward` with labels held in a tensor (any shape with N elements).
    T forward(const tensor<T>& logits, const tensor<std::int32_t>& labels) {
        return forward(logits, std::span<const std::int32_t>(labels.data(), labels.size()));
    }

    /// @brief `dL/dz` `[N, C]` from the last forward.
    const tensor<T>& gradient() const noexcept { return m_gradient; }
    /// @brief The mean loss of the last forward.
    T loss() const noexcept { return m_loss; }
    /// @brief How many rows of the last forward had their label as argmax (the first
    /// maximum on ties).
    std::size_t correct() const noexcept { return m_correct; }

private:
    static void check(const tensor<T>& logits, std::span<const std::int32_t> labels) {
        detail::require_rank(logits, 2, "softmax_cross_entropy", "[N, C]");
        const std::size_t n = logits.shape(0), c = logits.shape(1);
        if (n == 0 || c == 0) {
            throw invalid_argument("softmax_cross_entropy: logits have shape " +
                                   detail::shape_string(logits.shape()) +
                                   ", expected at least one row and one class");
        }
        if (labels.size() != n) {
            throw invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) +
                                   " labels for logits of shape " +
                                   detail::shape_string(logits.shape()));
        }
        for (std::size_t r = 0; r < n; ++r) {
            if (labels[r] < 0 || static_cast<std::size_t>(labels[r]) >= c) {
                throw invalid_argument("softmax_cross_entropy: label " +
                                       std::to_string(labels[r]) + " at index " +
                                       std::to_string(r) + " is outside [0, " +
                                       std::to_string(c) + ")");
            }
        }
    }

    // Index of the first maximum of a row; throws numerical_error if the row cannot be
    // normalised (NaN, +inf, or no finite entry).
    static std::size_t argmax(const T* z, std::size_t c, std::size_t row) {
        std::size_t best = 0;
        for (std::size_t j = 0; j < c; ++j) {
            if (std::isnan(z[j]) || z[j] == std::numeric_limits<T>::infinity()) {
                throw numerical_error("softmax_cross_entropy: logit [" + std::to_string(row) +
                                      ", " + std::to_string(j) + "] is " +
                                      std::to_string(z[j]));
            }
            best = z[j] > z[best] ? j : best;
        }
        if (z[best] == -std::numeric_limits<T>::infinity()) {
            throw numerical_error("softmax_cross_entropy: every logit of row " +
                                  std::to_string(row) + " is -inf");
        }
        return best;
    }

    // Loss of one row; writes the row's gradient, scaled by 1/N, into `grad`.
    double row_loss(const T* z, std::size_t c, std::size_t row, std::int32_t label,
                    T inv_n, T* grad) {
        const std::size_t best = argmax(z, c, row);
        m_correct += (best == static_cast<std::size_t>(label));
        const T top = z[best];
        T sum = 0;
        for (std::size_t j = 0; j < c; ++j) {
            grad[j] = std::exp(z[j] - top);  // in (0, 1], 0 for -inf
            sum += grad[j];
        }
        for (std::size_t j = 0; j < c; ++j) {
            grad[j] = grad[j] / sum * inv_n;
        }
        grad[label] -= inv_n;
        return static_cast<double>(top) + std::log(static_cast<double>(sum)) -
               static_cast<double>(z[label]);
    }

    tensor<T> m_gradient;
    T m_loss = 0;
    std::size_t m_correct = 0;
};

}  // namespace poisson::nn
