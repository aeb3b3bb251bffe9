#pragma once

/// @file
/// @brief Flattening of everything but the batch axis.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <numeric>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Reshapes `[N, d1, ..., dk]` to `[N, d1 * ... * dk]` (row-major, so NHWC images
/// become `(h, w, c)`-ordered feature rows); backward restores the remembered input shape.
template <class T>
class flatten {
public:
    /// @brief Element type of inputs and outputs.
    using value_type = T;

    /// @brief `x` as `[N, features]`. Throws `invalid_argument` for a rank-0 input.
    const tensor<T>& forward(const tensor<T>& x) {
        if (x.dimension() == 0) {
            throw invalid_argument("flatten: input has shape [], expected a batch axis");
        }
        m_input_shape = x.shape();
        const auto& s = x.shape();
        const std::size_t features =
            std::accumulate(s.begin() + 1, s.end(), std::size_t{1}, std::multiplies<>());
        m_output.resize(typename tensor<T>::shape_type{s[0], features});
        std::copy_n(x.data(), x.size(), m_output.data());
        return m_output;
    }

    /// @brief `g` reshaped to the last input's shape. Throws `invalid_argument` if `g` does
    /// not have the output's shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_same_shape(g, m_output, "flatten");
        m_input_grad.resize(m_input_shape);
        std::copy_n(g.data(), g.size(), m_input_grad.data());
        return m_input_grad;
    }

private:
    typename tensor<T>::shape_type m_input_shape;
    tensor<T> m_output;
    tensor<T> m_input_grad;
};

}  // namespace poisson::nn
