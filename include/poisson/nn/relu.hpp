#pragma once

/// @file
/// @brief Rectified linear unit.

#include <cstddef>

#include "poisson/nn/detail/parallel.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Element-wise `y = max(x, 0)` on a tensor of any shape.
///
/// Backward passes the gradient where `y > 0` and zero elsewhere (the subgradient 0 at
/// `x = 0`). It reads the mask from its own output, so it keeps no copy of the input.
/// NaN inputs stay NaN in the output.
template <class T>
class relu {
public:
    /// @brief Element type of inputs and outputs.
    using value_type = T;

    /// @brief `max(x, 0)`, element-wise.
    const tensor<T>& forward(const tensor<T>& x) {
        m_output.resize(x.shape());
        const T* in = x.data();
        T* out = m_output.data();
        const std::size_t n = x.size();
#pragma omp parallel for simd schedule(static) if (n >= detail::parallel_threshold)
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = in[i] < T{0} ? T{0} : in[i];  // written so that NaN passes through
        }
        return m_output;
    }

    /// @brief `g` where the last output was positive, else 0. Throws `invalid_argument` if
    /// `g` does not have the output's shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_same_shape(g, m_output, "relu");
        m_input_grad.resize(g.shape());
        const T* y = m_output.data();
        const T* in = g.data();
        T* out = m_input_grad.data();
        const std::size_t n = g.size();
#pragma omp parallel for simd schedule(static) if (n >= detail::parallel_threshold)
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = y[i] > T{0} ? in[i] : T{0};
        }
        return m_input_grad;
    }

private:
    tensor<T> m_output;
    tensor<T> m_input_grad;
};

}  // namespace poisson::nn
