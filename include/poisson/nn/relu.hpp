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
///
/// `sequential` fuses the layer with its neighbours where they can do its work while the
/// data is in cache: a `conv2d` in front hands over its output chunk by chunk
/// (`start_forward`, `forward_part`), and a `max_pool2d` behind, which knows the output
/// value at each window's maximum, writes the masked gradient (`passes`,
/// `input_gradient_buffer`). Results are bit for bit those of the separate passes.
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

    /// @brief Fused forward, for a layer in front that makes its output in pieces and hands
    /// each over while it is in cache (`conv2d::forward_into`): sizes the output, after
    /// which `forward_part` calls fill it. The result is the same as `forward`'s.
    void start_forward(const typename tensor<T>::shape_type& shape) { m_output.resize(shape); }

    /// @brief Writes `max(in[i], 0)` into output values `[first, first + count)`.
    void forward_part(const T* in, std::size_t first, std::size_t count) {
        T* out = m_output.data() + first;
#pragma omp parallel for simd schedule(static) if (count >= detail::parallel_threshold)
        for (std::size_t i = 0; i < count; ++i) {
            out[i] = in[i] < T{0} ? T{0} : in[i];
        }
    }

    /// @brief The output of the last forward.
    const tensor<T>& output() const noexcept { return m_output; }

    /// @brief Whether the gradient passes where the output is `y`: `y > 0`. A layer behind
    /// that sees the output values (`max_pool2d::backward_into`) applies this mask itself.
    static bool passes(T y) noexcept { return y > T{0}; }

    /// @brief Fused backward: the input-gradient buffer, sized like the output, for a layer
    /// behind to fill with the gradient already masked by `passes`; this layer's own pass
    /// over the gradient is then skipped.
    tensor<T>& input_gradient_buffer() {
        m_input_grad.resize(m_output.shape());
        return m_input_grad;
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
