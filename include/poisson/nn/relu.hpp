#pragma once

/// @file
/// @brief Rectified linear unit.

#include <cstddef>
#include <string>

#include "poisson/errors.hpp"
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
/// data is in cache, with results bit for bit those of the separate passes:
/// - a `conv2d` in front hands over its output chunk by chunk (`start_forward`,
///   `forward_part`);
/// - when a `max_pool2d` follows, it pools each chunk through `value`, and the output is
///   not stored at all (`start_unkept_forward`): the pooled maxima are all that backward
///   needs;
/// - that `max_pool2d`, which knows the output value at each window's maximum, writes the
///   masked gradient in backward (`passes`, `input_gradient_buffer`).
template <class T>
class relu {
public:
    /// @brief Element type of inputs and outputs.
    using value_type = T;
    /// @brief Shape of inputs and outputs.
    using shape_type = typename tensor<T>::shape_type;

    /// @brief `max(x, 0)`, element-wise.
    const tensor<T>& forward(const tensor<T>& x) {
        start_forward(x.shape());
        apply(x.data(), m_output.data(), x.size());
        return m_output;
    }

    /// @brief Fused forward, for a layer in front that makes its output in pieces and hands
    /// each over while it is in cache (`conv2d::forward_into`): sizes the output, after
    /// which `forward_part` calls fill it. The result is the same as `forward`'s.
    void start_forward(const shape_type& shape) {
        m_output.resize(shape);
        m_shape = shape;
        m_kept = true;
    }

    /// @brief Writes `max(in[i], 0)` into output values `[first, first + count)`.
    void forward_part(const T* in, std::size_t first, std::size_t count) {
        apply(in, m_output.data() + first, count);
    }

    /// @brief Fused forward whose output a layer behind computes itself, through `value`,
    /// and whose backward that layer takes over (`max_pool2d` through `sequential`): only
    /// the shape is recorded. Until the next `forward` or `start_forward`, `output` and
    /// `backward` throw.
    void start_unkept_forward(const shape_type& shape) {
        m_shape = shape;
        m_kept = false;
    }

    /// @brief `max(x, 0)`; NaN passes through.
    static T value(T x) noexcept { return x < T{0} ? T{0} : x; }

    /// @brief `out[i] = max(in[i], 0)` for `i < count`.
    static void apply(const T* in, T* out, std::size_t count) {
#pragma omp parallel for simd schedule(static) if (count >= detail::parallel_threshold)
        for (std::size_t i = 0; i < count; ++i) {
            out[i] = value(in[i]);
        }
    }

    /// @brief The output of the last forward. Throws `invalid_argument` if it was not kept.
    const tensor<T>& output() const {
        check_kept("output");
        return m_output;
    }

    /// @brief Shape of the last output, kept or not.
    const shape_type& output_shape() const noexcept { return m_shape; }

    /// @brief Whether the gradient passes where the output is `y`: `y > 0`. A layer behind
    /// that sees the output values (`max_pool2d::backward_into`) applies this mask itself.
    static bool passes(T y) noexcept { return y > T{0}; }

    /// @brief Fused backward: the input-gradient buffer, shaped like the last output, for a
    /// layer behind to fill with the gradient already masked by `passes`; this layer's own
    /// pass over the gradient is then skipped.
    tensor<T>& input_gradient_buffer() {
        m_input_grad.resize(m_shape);
        return m_input_grad;
    }

    /// @brief `g` where the last output was positive, else 0. Throws `invalid_argument` if
    /// `g` does not have the output's shape, or if the last forward did not keep its output.
    const tensor<T>& backward(const tensor<T>& g) {
        check_kept("backward");
        detail::require_shape(g, m_shape, "relu");
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
    void check_kept(const char* what) const {
        if (!m_kept) {
            throw invalid_argument(std::string("relu: ") + what +
                                   " needs the output, and the last forward did not keep it "
                                   "(a max_pool2d behind pooled it in pieces; its backward_into "
                                   "runs this layer's backward)");
        }
    }

    tensor<T> m_output;
    shape_type m_shape;   // of the last output, kept or not
    bool m_kept = true;
    tensor<T> m_input_grad;
};

}  // namespace poisson::nn
