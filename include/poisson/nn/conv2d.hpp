#pragma once

/// @file
/// @brief 2-D convolution of NHWC images, computed as im2col followed by one matrix product.

#include <algorithm>
#include <cstddef>
#include <string>

#include <xtensor/xbuilder.hpp>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/blas.hpp"
#include "poisson/nn/detail/parallel.hpp"
#include "poisson/nn/detail/rows.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Stride, zero padding and backward options of a `conv2d` layer.
struct conv2d_options {
    std::size_t stride_h = 1;  ///< rows between vertically adjacent output pixels, >= 1
    std::size_t stride_w = 1;  ///< columns between horizontally adjacent output pixels, >= 1
    std::size_t pad_h = 0;     ///< zero rows added above and below the input
    std::size_t pad_w = 0;     ///< zero columns added left and right of the input
    /// When false, `backward` skips the input gradient (useless for a first layer, and
    /// about half of the layer's backward work) and returns an empty tensor.
    bool compute_input_gradient = true;
};

namespace detail {

/// @brief Sizes of one convolution call, signed so that padded coordinates can go negative.
struct conv_geometry {
    std::ptrdiff_t n = 0, h = 0, w = 0, c = 0;  ///< input batch, height, width, channels
    std::ptrdiff_t oh = 0, ow = 0;              ///< output height and width
    std::ptrdiff_t kh = 0, kw = 0;              ///< kernel height and width
    std::ptrdiff_t sh = 1, sw = 1, ph = 0, pw = 0;  ///< strides and zero paddings

    /// @brief Length of one im2col row: a `kh x kw x c` patch.
    std::ptrdiff_t patch() const noexcept { return kh * kw * c; }
};

/// @brief The kernel taps `[begin, end)` whose input coordinate `start + tap` lies in
/// `[0, size)`; the others read zero padding.
struct tap_range {
    std::ptrdiff_t begin;  ///< first valid tap
    std::ptrdiff_t end;    ///< one past the last valid tap
};

/// @brief Computes the `tap_range` for a window of `taps` taps starting at `start`.
inline tap_range valid_taps(std::ptrdiff_t start, std::ptrdiff_t taps, std::ptrdiff_t size) {
    const auto begin = std::clamp<std::ptrdiff_t>(-start, 0, taps);
    return {begin, std::clamp<std::ptrdiff_t>(size - start, begin, taps)};
}

/// @brief Copies the patch of output pixel (oh, ow) from one NHWC `image` into the im2col
/// row `row`, as `kh` runs of `kw * c` values; padded positions become zero.
///
/// Along one kernel row the valid taps are adjacent input pixels, so each run is a single
/// contiguous copy of `valid_kw * c` values.
template <class T>
void im2col_pixel(const conv_geometry& g, const T* image, std::ptrdiff_t oh, std::ptrdiff_t ow,
                  T* row) {
    const auto top = oh * g.sh - g.ph;
    const auto left = ow * g.sw - g.pw;
    const auto rows = valid_taps(top, g.kh, g.h);
    const auto cols = valid_taps(left, g.kw, g.w);
    const auto run = g.kw * g.c;
    std::fill_n(row, rows.begin * run, T{0});
    for (auto r = rows.begin; r < rows.end; ++r) {
        T* dst = row + r * run;
        const T* src = image + ((top + r) * g.w + left + cols.begin) * g.c;
        std::fill_n(dst, cols.begin * g.c, T{0});
        std::copy_n(src, (cols.end - cols.begin) * g.c, dst + cols.begin * g.c);
        std::fill_n(dst + cols.end * g.c, (g.kw - cols.end) * g.c, T{0});
    }
    std::fill_n(row + rows.end * run, (g.kh - rows.end) * run, T{0});
}

/// @brief Adds the im2col row `row` of output pixel (oh, ow) back onto the pixels of
/// `image` it was copied from (the adjoint of `im2col_pixel`); padding is dropped.
template <class T>
void col2im_pixel(const conv_geometry& g, const T* row, std::ptrdiff_t oh, std::ptrdiff_t ow,
                  T* image) {
    const auto top = oh * g.sh - g.ph;
    const auto left = ow * g.sw - g.pw;
    const auto rows = valid_taps(top, g.kh, g.h);
    const auto cols = valid_taps(left, g.kw, g.w);
    const auto count = (cols.end - cols.begin) * g.c;
    for (auto r = rows.begin; r < rows.end; ++r) {
        const T* src = row + (r * g.kw + cols.begin) * g.c;
        T* dst = image + ((top + r) * g.w + left + cols.begin) * g.c;
        for (std::ptrdiff_t i = 0; i < count; ++i) {
            dst[i] += src[i];
        }
    }
}

}  // namespace detail

/// @brief 2-D convolution (cross-correlation, as in every deep-learning library) of NHWC
/// images with zero padding and a general stride.
///
/// Input `x` is `[N, H, W, C_in]`, weights `[KH, KW, C_in, C_out]`, bias `[C_out]`, output
/// `[N, OH, OW, C_out]` with `OH = (H + 2 pad_h - KH) / stride_h + 1` (likewise OW) and
///
///     y[n, i, j, o] = b[o] + sum_{u, v, c} x[n, i*sh + u - ph, j*sw + v - pw, c] * w[u, v, c, o]
///
/// where x is zero outside the image. Forward builds the im2col matrix `col`
/// `[N*OH*OW, KH*KW*C_in]` (one row per output pixel; the weight layout makes each row's
/// `(u, v, c)` order match the weights' memory order) and computes `y = col * W + b` with
/// one BLAS gemm for the whole batch. Backward: `dW = col^T dY`, `db = sum over pixels of
/// dY`, `dX = col2im(dY W^T)`.
///
/// Parameters start at zero: initialise them with `init.hpp`. The im2col buffer is kept
/// between calls; it is the layer's largest memory cost.
///
/// Threads: im2col and col2im run on OpenMP threads, the products on the BLAS's own. With
/// a pthread build of OpenBLAS, set `OMP_WAIT_POLICY=passive` so that idle OpenMP threads
/// sleep instead of spinning on the cores the BLAS threads need.
template <class T>
class conv2d {
public:
    /// @brief Element type of inputs, outputs and parameters.
    using value_type = T;

    /// @brief A convolution from `in_channels` to `out_channels` with a `kernel_h x
    /// kernel_w` kernel. Throws `invalid_argument` if a size or stride is 0.
    conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_h,
           std::size_t kernel_w, const conv2d_options& options = {})
        : m_in_channels(in_channels)
        , m_out_channels(out_channels)
        , m_kernel_h(kernel_h)
        , m_kernel_w(kernel_w)
        , m_options(options) {
        check_positive(in_channels, "in_channels");
        check_positive(out_channels, "out_channels");
        check_positive(kernel_h, "kernel_h");
        check_positive(kernel_w, "kernel_w");
        check_positive(options.stride_h, "stride_h");
        check_positive(options.stride_w, "stride_w");
        m_weight = xt::zeros<T>({kernel_h, kernel_w, in_channels, out_channels});
        m_weight_grad = m_weight;
        m_bias = xt::zeros<T>({out_channels});
        m_bias_grad = m_bias;
        m_input_grad = tensor<T>::from_shape({0});
    }

    /// @brief A convolution with "same" zero padding `((KH-1)/2, (KW-1)/2)`: the output is
    /// `ceil(H / stride_h) x ceil(W / stride_w)`, so `H x W` at stride 1. The padding fields
    /// of `options` are replaced. Requires odd kernel sides, else throws `invalid_argument`.
    static conv2d same(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_h,
                       std::size_t kernel_w, conv2d_options options = {}) {
        if (kernel_h % 2 == 0 || kernel_w % 2 == 0) {
            throw invalid_argument("conv2d::same: kernel is " + std::to_string(kernel_h) + "x" +
                                   std::to_string(kernel_w) +
                                   ", same padding needs odd kernel sides");
        }
        options.pad_h = (kernel_h - 1) / 2;
        options.pad_w = (kernel_w - 1) / 2;
        return conv2d(in_channels, out_channels, kernel_h, kernel_w, options);
    }

    /// @brief Output `[N, OH, OW, C_out]` for input `x` `[N, H, W, C_in]`. Throws
    /// `invalid_argument` for another rank or channel count, an input smaller than the
    /// kernel even after padding, or parameters reshaped since construction.
    const tensor<T>& forward(const tensor<T>& x) {
        check_parameters();
        m_geometry = geometry_for(x);
        const auto pixels = output_pixels();
        const auto patch = static_cast<std::size_t>(m_geometry.patch());
        m_col.resize(shape2(pixels, patch));
        im2col(x.data());
        m_output.resize(typename tensor<T>::shape_type{x.shape(0), std::size_t(m_geometry.oh),
                                                       std::size_t(m_geometry.ow),
                                                       m_out_channels});
        detail::fill_rows(m_output.data(), pixels, m_bias.data(), m_out_channels);
        detail::gemm(T{1}, {m_col.data(), pixels, patch}, detail::op::none,
                     {m_weight.data(), patch, m_out_channels}, detail::op::none, T{1},
                     {m_output.data(), pixels, m_out_channels}, "conv2d");
        return m_output;
    }

    /// @brief Input gradient for output gradient `g` (shape of the last output), or an
    /// empty tensor when `compute_input_gradient` is false. Overwrites the weight and bias
    /// gradients. Throws `invalid_argument` if `g` has another shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_same_shape(g, m_output, "conv2d");
        const auto pixels = output_pixels();
        const auto patch = static_cast<std::size_t>(m_geometry.patch());
        m_weight_grad.resize(m_weight.shape());  // in case a caller reshaped them
        m_bias_grad.resize(m_bias.shape());
        detail::gemm(T{1}, {m_col.data(), pixels, patch}, detail::op::transpose,
                     {g.data(), pixels, m_out_channels}, detail::op::none, T{0},
                     {m_weight_grad.data(), patch, m_out_channels}, "conv2d");
        detail::column_sums(g.data(), pixels, m_out_channels, m_bias_grad.data());
        if (!m_options.compute_input_gradient) {
            return m_input_grad;
        }
        m_dcol.resize(shape2(pixels, patch));
        detail::gemm(T{1}, {g.data(), pixels, m_out_channels}, detail::op::none,
                     {m_weight.data(), patch, m_out_channels}, detail::op::transpose, T{0},
                     {m_dcol.data(), pixels, patch}, "conv2d");
        m_input_grad.resize(m_input_shape);
        col2im(m_input_grad.data());
        return m_input_grad;
    }

    /// @brief Calls `visit(name, value, gradient)` for "weight" `[KH, KW, C_in, C_out]`, then
    /// "bias" `[C_out]`.
    template <class Visit>
    void for_each_parameter(Visit&& visit) {
        visit("weight", m_weight, m_weight_grad);
        visit("bias", m_bias, m_bias_grad);
    }

    /// @brief Weights `[KH, KW, C_in, C_out]`.
    tensor<T>& weight() noexcept { return m_weight; }
    /// @brief Weights `[KH, KW, C_in, C_out]`.
    const tensor<T>& weight() const noexcept { return m_weight; }
    /// @brief Bias `[C_out]`.
    tensor<T>& bias() noexcept { return m_bias; }
    /// @brief Bias `[C_out]`.
    const tensor<T>& bias() const noexcept { return m_bias; }
    /// @brief Gradient of the loss with respect to the weights, from the last backward.
    const tensor<T>& weight_gradient() const noexcept { return m_weight_grad; }
    /// @brief Gradient of the loss with respect to the bias, from the last backward.
    const tensor<T>& bias_gradient() const noexcept { return m_bias_grad; }
    /// @brief Stride, padding and backward options.
    const conv2d_options& options() const noexcept { return m_options; }

private:
    static void check_positive(std::size_t value, const char* name) {
        if (value == 0) {
            throw invalid_argument(std::string("conv2d: ") + name + " is 0, expected >= 1");
        }
    }

    static typename tensor<T>::shape_type shape2(std::size_t rows, std::size_t cols) {
        return {rows, cols};
    }

    std::size_t output_pixels() const noexcept {
        return static_cast<std::size_t>(m_geometry.n * m_geometry.oh * m_geometry.ow);
    }

    // The parameters are reachable by reference; the gemm calls trust their shapes.
    void check_parameters() const {
        const typename tensor<T>::shape_type w{m_kernel_h, m_kernel_w, m_in_channels,
                                               m_out_channels};
        if (m_weight.shape() != w || m_bias.shape() != typename tensor<T>::shape_type{w[3]}) {
            throw invalid_argument("conv2d: weight has shape " +
                                   detail::shape_string(m_weight.shape()) + " and bias " +
                                   detail::shape_string(m_bias.shape()) + ", expected " +
                                   detail::shape_string(w) + " and [" +
                                   std::to_string(m_out_channels) + "]");
        }
    }

    detail::conv_geometry geometry_for(const tensor<T>& x) {
        const std::string expected = "[N, H, W, " + std::to_string(m_in_channels) + "]";
        detail::require_rank(x, 4, "conv2d", expected);
        if (x.shape(3) != m_in_channels) {
            throw invalid_argument("conv2d: input has shape " + detail::shape_string(x.shape()) +
                                   " (" + std::to_string(x.shape(3)) + " channels), expected " +
                                   expected);
        }
        const auto padded_h = x.shape(1) + 2 * m_options.pad_h;
        const auto padded_w = x.shape(2) + 2 * m_options.pad_w;
        if (padded_h < m_kernel_h || padded_w < m_kernel_w) {
            throw invalid_argument("conv2d: input has shape " + detail::shape_string(x.shape()) +
                                   ", padded to " + std::to_string(padded_h) + "x" +
                                   std::to_string(padded_w) + " it is smaller than the " +
                                   std::to_string(m_kernel_h) + "x" +
                                   std::to_string(m_kernel_w) + " kernel");
        }
        m_input_shape = x.shape();
        const auto s = [](std::size_t v) { return static_cast<std::ptrdiff_t>(v); };
        detail::conv_geometry g;
        g.n = s(x.shape(0));
        g.h = s(x.shape(1));
        g.w = s(x.shape(2));
        g.c = s(m_in_channels);
        g.kh = s(m_kernel_h);
        g.kw = s(m_kernel_w);
        g.sh = s(m_options.stride_h);
        g.sw = s(m_options.stride_w);
        g.ph = s(m_options.pad_h);
        g.pw = s(m_options.pad_w);
        g.oh = s((padded_h - m_kernel_h) / m_options.stride_h + 1);
        g.ow = s((padded_w - m_kernel_w) / m_options.stride_w + 1);
        return g;
    }

    // Every (image, output row) pair writes its own rows of col, so both loops split freely.
    void im2col(const T* x) {
        const auto& g = m_geometry;
        T* col = m_col.data();
#pragma omp parallel for collapse(2) schedule(static) \
    if (m_col.size() >= detail::parallel_threshold)
        for (std::ptrdiff_t n = 0; n < g.n; ++n) {
            for (std::ptrdiff_t oh = 0; oh < g.oh; ++oh) {
                const T* image = x + n * g.h * g.w * g.c;
                for (std::ptrdiff_t ow = 0; ow < g.ow; ++ow) {
                    T* row = col + ((n * g.oh + oh) * g.ow + ow) * g.patch();
                    detail::im2col_pixel(g, image, oh, ow, row);
                }
            }
        }
    }

    // Overlapping patches add into the same input pixels: split over images only.
    void col2im(T* dx) const {
        const auto& g = m_geometry;
        const T* dcol = m_dcol.data();
        const auto image_size = g.h * g.w * g.c;
#pragma omp parallel for schedule(static) \
    if (m_dcol.size() >= detail::parallel_threshold)
        for (std::ptrdiff_t n = 0; n < g.n; ++n) {
            T* image = dx + n * image_size;
            std::fill_n(image, image_size, T{0});
            for (std::ptrdiff_t oh = 0; oh < g.oh; ++oh) {
                for (std::ptrdiff_t ow = 0; ow < g.ow; ++ow) {
                    const T* row = dcol + ((n * g.oh + oh) * g.ow + ow) * g.patch();
                    detail::col2im_pixel(g, row, oh, ow, image);
                }
            }
        }
    }

    std::size_t m_in_channels;
    std::size_t m_out_channels;
    std::size_t m_kernel_h;
    std::size_t m_kernel_w;
    conv2d_options m_options;
    tensor<T> m_weight;
    tensor<T> m_weight_grad;
    tensor<T> m_bias;
    tensor<T> m_bias_grad;
    detail::conv_geometry m_geometry;
    typename tensor<T>::shape_type m_input_shape;
    tensor<T> m_col;         // im2col of the last input, [N*OH*OW, KH*KW*C_in]
    tensor<T> m_output;      // [N, OH, OW, C_out]
    tensor<T> m_dcol;        // dY W^T, same shape as m_col
    tensor<T> m_input_grad;  // [N, H, W, C_in], or empty when not computed
};

}  // namespace poisson::nn
