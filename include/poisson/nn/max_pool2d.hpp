#pragma once

/// @file
/// @brief Max pooling of NHWC images over a general window and stride.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/parallel.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Window and stride of a `max_pool2d` layer (default: 2x2 windows, stride 2).
struct max_pool2d_options {
    std::size_t window_h = 2;  ///< window height, >= 1
    std::size_t window_w = 2;  ///< window width, >= 1
    std::size_t stride_h = 2;  ///< rows between vertically adjacent windows, >= 1
    std::size_t stride_w = 2;  ///< columns between horizontally adjacent windows, >= 1
};

/// @brief Max pooling, per channel, of `[N, H, W, C]` images without padding.
///
/// Output `[N, OH, OW, C]`, `OH = (H - window_h) / stride_h + 1` (likewise OW; trailing rows
/// and columns that do not fill a window are dropped), and
/// `y[n, i, j, c] = max_{u, v} x[n, i*sh + u, j*sw + v, c]`.
///
/// Ties: the gradient goes entirely to the *first* maximum in row-major window order (the
/// smallest `u`, then the smallest `v`), so it is deterministic and never split. Forward
/// stores, for each output, the int32 position `(h*W + w)*C + c` of its maximum inside its
/// image; backward scatters the output gradient there (adding where overlapping windows
/// share a maximum). A NaN in the first window position propagates to the output.
///
/// `sequential` also runs the layer in pieces, fused with a `relu` in front (and the
/// `conv2d` before it): `start_forward` and `forward_images` pool whole images through the
/// relu as the convolution makes them, and `backward_into` and `backward_images` write
/// the gradient through the relu, using the pooled maxima as its mask.
template <class T>
class max_pool2d {
public:
    /// @brief Element type of inputs and outputs.
    using value_type = T;

    /// @brief Pooling with the given window and stride. Throws `invalid_argument` for 0.
    explicit max_pool2d(const max_pool2d_options& options = {}) : m_options(options) {
        check_positive(options.window_h, "window_h");
        check_positive(options.window_w, "window_w");
        check_positive(options.stride_h, "stride_h");
        check_positive(options.stride_w, "stride_w");
    }

    /// @brief Output `[N, OH, OW, C]` for `x` `[N, H, W, C]`. Throws `invalid_argument` for
    /// another rank, an image smaller than the window, or an image of more than 2^31 - 1
    /// values (the argmax positions are int32).
    const tensor<T>& forward(const tensor<T>& x) {
        start_forward(x.shape());
        forward_images(x.data(), 0, x.shape(0));
        return m_output;
    }

    /// @brief Piecewise forward, for a layer in front that hands over whole images while
    /// they are in cache (`sequential` with conv2d and relu in front): checks the input
    /// shape as `forward` does and sizes the output; `forward_images` calls then fill it.
    void start_forward(const typename tensor<T>::shape_type& shape) {
        check_input(shape);
        m_input_shape = shape;
        const std::size_t oh = (shape[1] - m_options.window_h) / m_options.stride_h + 1;
        const std::size_t ow = (shape[2] - m_options.window_w) / m_options.stride_w + 1;
        const typename tensor<T>::shape_type out_shape{shape[0], oh, ow, shape[3]};
        m_output.resize(out_shape);
        m_argmax.resize(out_shape);
    }

    /// @brief Pools images `[first, last)` of the batch (of the shape given to
    /// `start_forward`), `images` pointing at the first of them, with `transform` applied
    /// to each value as it is read (a `relu` in front, whose output is then never stored).
    template <class Transform = std::identity>
    void forward_images(const T* images, std::size_t first, std::size_t last,
                        Transform transform = {}) {
        const auto& s = m_input_shape;
        const auto count = static_cast<std::ptrdiff_t>(last - first);
        const auto rows = static_cast<std::ptrdiff_t>(m_output.shape(1));
#pragma omp parallel for collapse(2) schedule(static) \
    if ((last - first) * s[1] * s[2] * s[3] >= detail::parallel_threshold)
        for (std::ptrdiff_t b = 0; b < count; ++b) {
            for (std::ptrdiff_t i = 0; i < rows; ++i) {
                pool_row(images + std::size_t(b) * s[1] * s[2] * s[3], first + std::size_t(b),
                         std::size_t(i), transform);
            }
        }
    }

    /// @brief The output of the last forward.
    const tensor<T>& output() const noexcept { return m_output; }

    /// @brief Input gradient `[N, H, W, C]` for output gradient `g`: each output's gradient
    /// added at its stored maximum. Throws `invalid_argument` if `g` is not the output shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_same_shape(g, m_output, "max_pool2d");
        m_input_grad.resize(m_input_shape);
        scatter(g.data(), m_input_grad.data(), 0, m_input_shape[0], [](T) { return true; });
        return m_input_grad;
    }

    /// @brief Fused backward through the element-wise layer `prev` in front (a `relu`, whose
    /// output this layer pooled; `sequential` makes the call): the gradient with respect to
    /// `prev`'s input, written into `prev.input_gradient_buffer()` and returned.
    ///
    /// Each output's gradient goes to its maximum only where `Prev::passes(y)` for the
    /// output value `y`, which is `prev`'s output there; so the result is bit for bit
    /// `prev.backward(backward(g))` in one pass instead of three. Throws `invalid_argument`
    /// if `g` is not the output shape or `prev`'s output was not this layer's input shape.
    template <output_masked Prev>
        requires std::same_as<typename Prev::value_type, T>
    const tensor<T>& backward_into(const tensor<T>& g, Prev& prev) {
        check_backward(g, prev.output_shape());
        tensor<T>& dx = prev.input_gradient_buffer();
        scatter(g.data(), dx.data(), 0, m_input_shape[0], [](T y) { return Prev::passes(y); });
        return dx;
    }

    /// @brief Throws what `backward_into` throws, for output gradient `g` and a layer in
    /// front whose output has `prev_shape`.
    void check_backward(const tensor<T>& g,
                        const typename tensor<T>::shape_type& prev_shape) const {
        detail::require_same_shape(g, m_output, "max_pool2d");
        if (prev_shape != m_input_shape) {
            throw invalid_argument("max_pool2d: the layer in front has output shape " +
                                   detail::shape_string(prev_shape) + ", the last input was " +
                                   detail::shape_string(m_input_shape));
        }
    }

    /// @brief `backward_into` for images `[first, last)` only, written to `dx` (pointing at
    /// image `first`): for a layer further in front that takes its output gradient whole
    /// images at a time (`conv2d::backward_from`, through `sequential`). Call
    /// `check_backward` first.
    template <output_masked Prev>
        requires std::same_as<typename Prev::value_type, T>
    void backward_images(const tensor<T>& g, T* dx, std::size_t first, std::size_t last) const {
        scatter(g.data(), dx, first, last, [](T y) { return Prev::passes(y); });
    }

    /// @brief Shape of the last input.
    const typename tensor<T>::shape_type& input_shape() const noexcept { return m_input_shape; }

    /// @brief Window and stride.
    const max_pool2d_options& options() const noexcept { return m_options; }

    /// @brief For each output of the last forward, the position `(h*W + w)*C + c` of its
    /// maximum inside its own image.
    const tensor<std::int32_t>& argmax() const noexcept { return m_argmax; }

private:
    static void check_positive(std::size_t value, const char* name) {
        if (value == 0) {
            throw invalid_argument(std::string("max_pool2d: ") + name + " is 0, expected >= 1");
        }
    }

    void check_input(const typename tensor<T>::shape_type& shape) const {
        detail::require_rank(shape, 4, "max_pool2d", "[N, H, W, C]");
        if (shape[1] < m_options.window_h || shape[2] < m_options.window_w) {
            throw invalid_argument("max_pool2d: input has shape " + detail::shape_string(shape) +
                                   ", smaller than the " + std::to_string(m_options.window_h) +
                                   "x" + std::to_string(m_options.window_w) + " window");
        }
        const auto image = shape[1] * shape[2] * shape[3];
        if (image > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
            throw invalid_argument("max_pool2d: input has shape " + detail::shape_string(shape) +
                                   ", an image has too many values for int32 positions");
        }
    }

    // For images [first, last), dx (from image first on) = 0, then each output's gradient
    // added at its maximum where passes(output). Windows of one image may overlap, so
    // threads split over images only.
    template <class Passes>
    void scatter(const T* g, T* dx, std::size_t first, std::size_t last, Passes passes) const {
        const auto& s = m_input_shape;
        const std::size_t image = s[1] * s[2] * s[3];
        const std::size_t outputs = m_output.shape(1) * m_output.shape(2) * s[3];
#pragma omp parallel for schedule(static) \
    if ((last - first) * image >= detail::parallel_threshold)
        for (std::size_t b = first; b < last; ++b) {
            T* dxb = dx + (b - first) * image;
            const T* gb = g + b * outputs;
            const T* yb = m_output.data() + b * outputs;
            const std::int32_t* arg = m_argmax.data() + b * outputs;
            std::fill_n(dxb, image, T{0});
            for (std::size_t k = 0; k < outputs; ++k) {
                dxb[arg[k]] += passes(yb[k]) ? gb[k] : T{0};
            }
        }
    }

    // Pools output row i of image b, whose values start at `image`, each value read
    // through `f`. Starting from the window's first pixel and replacing only on a strictly
    // greater value keeps the first maximum in row-major order.
    template <class F>
    void pool_row(const T* image, std::size_t b, std::size_t i, F f) {
        const auto& s = m_input_shape;
        const std::size_t w = s[2], c = s[3], ow = m_output.shape(2);
        const std::size_t first = ((b * m_output.shape(1) + i) * ow) * c;
        for (std::size_t j = 0; j < ow; ++j) {
            T* out = m_output.data() + first + j * c;
            std::int32_t* arg = m_argmax.data() + first + j * c;
            const std::size_t top = i * m_options.stride_h, left = j * m_options.stride_w;
            for (std::size_t u = 0; u < m_options.window_h; ++u) {
                for (std::size_t v = 0; v < m_options.window_w; ++v) {
                    const auto base = static_cast<std::int32_t>(((top + u) * w + left + v) * c);
                    if (u == 0 && v == 0) {
                        start_window(image + base, base, c, out, arg, f);
                    } else {
                        update_window(image + base, base, c, out, arg, f);
                    }
                }
            }
        }
    }

    template <class F>
    static void start_window(const T* src, std::int32_t base, std::size_t c, T* out,
                             std::int32_t* arg, F f) {
        for (std::size_t k = 0; k < c; ++k) {
            out[k] = f(src[k]);
            arg[k] = base + static_cast<std::int32_t>(k);
        }
    }

    // Branch-free selects, so the channel loop vectorises.
    template <class F>
    static void update_window(const T* src, std::int32_t base, std::size_t c, T* out,
                              std::int32_t* arg, F f) {
        for (std::size_t k = 0; k < c; ++k) {
            const T value = f(src[k]);
            const bool greater = value > out[k];
            out[k] = greater ? value : out[k];
            arg[k] = greater ? base + static_cast<std::int32_t>(k) : arg[k];
        }
    }

    max_pool2d_options m_options;
    typename tensor<T>::shape_type m_input_shape;
    tensor<T> m_output;
    tensor<std::int32_t> m_argmax;
    tensor<T> m_input_grad;
};

}  // namespace poisson::nn
