#pragma once

/// @file
/// @brief Fully connected layer: one matrix product and a bias.

#include <algorithm>
#include <cstddef>
#include <string>

#include <xtensor/xbuilder.hpp>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/blas.hpp"
#include "poisson/nn/detail/rows.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Fully connected layer `y = x W + b` on rank-2 input (use `flatten` before it).
///
/// `x` is `[N, in]`, `W` `[in, out]`, `b` `[out]`, `y` `[N, out]`; one BLAS gemm each for
/// `y`, `dW = x^T dY` and `dX = dY W^T`, and `db = sum over the batch of dY`. Forward copies
/// `x` into the layer (backward needs it for `dW`), so the caller may reuse its input.
/// Parameters start at zero: initialise them with `init.hpp`.
template <class T>
class dense {
public:
    /// @brief Element type of inputs, outputs and parameters.
    using value_type = T;

    /// @brief A layer from `in` features to `out` features. Throws `invalid_argument` for 0.
    dense(std::size_t in, std::size_t out) : m_in(in), m_out(out) {
        if (in == 0 || out == 0) {
            throw invalid_argument("dense: sizes are " + std::to_string(in) + " -> " +
                                   std::to_string(out) + ", expected both >= 1");
        }
        m_weight = xt::zeros<T>({in, out});
        m_weight_grad = m_weight;
        m_bias = xt::zeros<T>({out});
        m_bias_grad = m_bias;
    }

    /// @brief Output `[N, out]` for `x` `[N, in]`. Throws `invalid_argument` for another
    /// input shape or for parameters reshaped since construction.
    const tensor<T>& forward(const tensor<T>& x) {
        check_parameters();
        check_input(x);
        const std::size_t n = x.shape(0);
        m_input.resize(x.shape());
        std::copy_n(x.data(), x.size(), m_input.data());
        m_output.resize(typename tensor<T>::shape_type{n, m_out});
        detail::fill_rows(m_output.data(), n, m_bias.data(), m_out);
        detail::gemm(T{1}, {x.data(), n, m_in}, detail::op::none, {m_weight.data(), m_in, m_out},
                     detail::op::none, T{1}, {m_output.data(), n, m_out}, "dense");
        return m_output;
    }

    /// @brief Input gradient `[N, in]` for output gradient `g` `[N, out]`; overwrites the
    /// weight and bias gradients. Throws `invalid_argument` if `g` is not the output shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_same_shape(g, m_output, "dense");
        const std::size_t n = g.shape(0);
        m_weight_grad.resize(m_weight.shape());  // in case a caller reshaped them
        m_bias_grad.resize(m_bias.shape());
        detail::gemm(T{1}, {m_input.data(), n, m_in}, detail::op::transpose,
                     {g.data(), n, m_out}, detail::op::none, T{0},
                     {m_weight_grad.data(), m_in, m_out}, "dense");
        detail::column_sums(g.data(), n, m_out, m_bias_grad.data());
        m_input_grad.resize(m_input.shape());
        detail::gemm(T{1}, {g.data(), n, m_out}, detail::op::none, {m_weight.data(), m_in, m_out},
                     detail::op::transpose, T{0}, {m_input_grad.data(), n, m_in}, "dense");
        return m_input_grad;
    }

    /// @brief Calls `visit(name, value, gradient)` for "weight" `[in, out]`, then "bias".
    template <class Visit>
    void for_each_parameter(Visit&& visit) {
        visit("weight", m_weight, m_weight_grad);
        visit("bias", m_bias, m_bias_grad);
    }

    /// @brief Weights `[in, out]`.
    tensor<T>& weight() noexcept { return m_weight; }
    /// @brief Weights `[in, out]`.
    const tensor<T>& weight() const noexcept { return m_weight; }
    /// @brief Bias `[out]`.
    tensor<T>& bias() noexcept { return m_bias; }
    /// @brief Bias `[out]`.
    const tensor<T>& bias() const noexcept { return m_bias; }
    /// @brief Gradient of the loss with respect to the weights, from the last backward.
    const tensor<T>& weight_gradient() const noexcept { return m_weight_grad; }
    /// @brief Gradient of the loss with respect to the bias, from the last backward.
    const tensor<T>& bias_gradient() const noexcept { return m_bias_grad; }

private:
    // The parameters are reachable by reference; the gemm calls trust their shapes.
    void check_parameters() const {
        const typename tensor<T>::shape_type w{m_in, m_out};
        if (m_weight.shape() != w || m_bias.shape() != typename tensor<T>::shape_type{m_out}) {
            throw invalid_argument("dense: weight has shape " +
                                   detail::shape_string(m_weight.shape()) + " and bias " +
                                   detail::shape_string(m_bias.shape()) + ", expected " +
                                   detail::shape_string(w) + " and [" + std::to_string(m_out) +
                                   "]");
        }
    }

    void check_input(const tensor<T>& x) const {
        const std::string expected = "[N, " + std::to_string(m_in) + "]";
        if (x.dimension() != 2 || x.shape(1) != m_in) {
            throw invalid_argument("dense: input has shape " + detail::shape_string(x.shape()) +
                                   ", expected " + expected +
                                   (x.dimension() > 2 ? " (flatten it first)" : ""));
        }
    }

    std::size_t m_in;
    std::size_t m_out;
    tensor<T> m_weight;
    tensor<T> m_weight_grad;
    tensor<T> m_bias;
    tensor<T> m_bias_grad;
    tensor<T> m_input;  // copy of the last input, for dW
    tensor<T> m_output;
    tensor<T> m_input_grad;
};

}  // namespace poisson::nn
