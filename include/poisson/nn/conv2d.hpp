#pragma once

/// @file
/// @brief 2-D convolution of NHWC images, computed as im2col followed by one matrix product.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <string>

#include <xtensor/xbuilder.hpp>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/blas.hpp"
#include "poisson/nn/detail/im2col.hpp"
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
    /// Bytes of working set per chunk and thread: the batch is processed in chunks of as
    /// many whole images as fit in `chunk_bytes` times the OpenMP thread count (at least
    /// one), counting each image's im2col rows, output rows and, when the input gradient is
    /// computed, its `dY W^T` rows. The threads split a chunk's rows between them, in the
    /// im2col as in the products, so a chunk whose share stays in each core's cache (L2)
    /// between the im2col and the products saves trips to memory. 0 puts the whole batch in
    /// one chunk.
    std::size_t chunk_bytes = std::size_t{3} << 19;
};

/// @brief 2-D convolution (cross-correlation, as in every deep-learning library) of NHWC
/// images with zero padding and a general stride.
///
/// Input `x` is `[N, H, W, C_in]`, weights `[KH, KW, C_in, C_out]`, bias `[C_out]`, output
/// `[N, OH, OW, C_out]` with `OH = (H + 2 pad_h - KH) / stride_h + 1` (likewise OW) and
///
///     y[n, i, j, o] = b[o] + sum_{u, v, c} x[n, i*sh + u - ph, j*sw + v - pw, c] * w[u, v, c, o]
///
/// where x is zero outside the image. Forward copies `x` into a zero-padded batch and
/// builds the im2col matrix `col` (one row per output pixel, `KH*KW*C_in` values; the weight
/// layout makes each row's `(u, v, c)` order match the weights' memory order), then computes
/// `y = col * W + b` with BLAS gemm. Backward: `dW = col^T dY`, `db = sum over pixels of dY`,
/// `dX = col2im(dY W^T)`.
///
/// The batch goes through in chunks of whole images (`conv2d_options::chunk_bytes`): the
/// output rows of a chunk are contiguous in NHWC, so each chunk is still one large product,
/// and its im2col rows stay in cache between being written and being read. Backward
/// rebuilds each chunk's rows from the padded input (cheaper than keeping the whole `col`
/// in memory), accumulates `dW` over the chunks, and folds each chunk's `dY W^T` back into
/// `dX` right after its product. `sequential` goes further with the layers around it:
/// `forward_into` hands each chunk's output to the layer behind instead of storing it, and
/// `backward_from` has the output gradient made chunk by chunk, as each chunk needs it.
///
/// Parameters start at zero: initialise them with `init.hpp`.
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
        m_empty = tensor<T>::from_shape({0});
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
        start_forward(x);
        m_output.resize(m_output_shape);
        for_each_chunk([&](std::ptrdiff_t first, std::ptrdiff_t last) {
            forward_chunk(first, last, output_rows(m_output.data(), first));
        });
        return m_output;
    }

    /// @brief `next.forward(forward(x))` for the element-wise layer `next` behind (a `relu`;
    /// `sequential` makes the call), with each chunk of this layer's output, whole images
    /// in order, handed to `next.forward_part` while it is in cache. This layer's own output
    /// is then not kept; the result, `next`'s output, is bit for bit that of the separate
    /// calls. Throws as `forward` does.
    template <piecewise_input Next>
        requires std::same_as<typename Next::value_type, T>
    const tensor<T>& forward_into(const tensor<T>& x, Next& next) {
        start_forward(x);
        next.start_forward(m_output_shape);
        m_chunk_output.resize(shape2(chunk_images() * std::size_t(m_geometry.pixels()),
                                     m_out_channels));
        for_each_chunk([&](std::ptrdiff_t first, std::ptrdiff_t last) {
            forward_chunk(first, last, m_chunk_output.data());
            next.forward_part(m_chunk_output.data(), output_rows(std::size_t{0}, first),
                              rows_of(first, last) * m_out_channels);
        });
        return next.output();
    }

    /// @brief Input gradient for output gradient `g` (shape of the last output), or an
    /// empty tensor when `compute_input_gradient` is false. Overwrites the weight and bias
    /// gradients. Throws `invalid_argument` if `g` has another shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_shape(g, m_output_shape, "conv2d");
        return backward_chunks(
            [&](std::ptrdiff_t first, std::ptrdiff_t) { return output_rows(g.data(), first); });
    }

    /// @brief `backward(g)` for an output gradient `g` of shape `shape` that is never stored
    /// whole: `source(first, last, rows)` writes the rows of images `[first, last)` to `rows`
    /// when the chunk needs them, so they are in cache for its products (`sequential` has a
    /// `max_pool2d` behind make them). Throws `invalid_argument` if `shape` is not the
    /// output shape.
    template <class Source>
        requires std::invocable<Source&, std::size_t, std::size_t, T*>
    const tensor<T>& backward_from(const typename tensor<T>::shape_type& shape, Source&& source) {
        if (shape != m_output_shape) {
            throw invalid_argument("conv2d: output gradient has shape " +
                                   detail::shape_string(shape) + ", expected the output shape " +
                                   detail::shape_string(m_output_shape));
        }
        m_chunk_grad.resize(shape2(chunk_images() * std::size_t(m_geometry.pixels()),
                                   m_out_channels));
        return backward_chunks([&](std::ptrdiff_t first, std::ptrdiff_t last) {
            source(std::size_t(first), std::size_t(last), m_chunk_grad.data());
            return static_cast<const T*>(m_chunk_grad.data());
        });
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
    /// @brief Images per chunk of the last forward (see `conv2d_options::chunk_bytes`).
    std::size_t images_per_chunk() const noexcept { return chunk_images(); }

private:
    static void check_positive(std::size_t value, const char* name) {
        if (value == 0) {
            throw invalid_argument(std::string("conv2d: ") + name + " is 0, expected >= 1");
        }
    }

    static typename tensor<T>::shape_type shape2(std::size_t rows, std::size_t cols) {
        return {rows, cols};
    }

    std::size_t patch() const noexcept { return std::size_t(m_geometry.patch()); }

    // Images per chunk: as many as fit in chunk_bytes of working set per thread, at least
    // one. Fixed by the last forward, which backward's chunks must match.
    std::size_t chunk_images() const noexcept { return m_chunk_images; }

    std::size_t fit_chunk_images() const noexcept {
        const auto rows = patch() * (m_options.compute_input_gradient ? 2 : 1) + m_out_channels;
        const auto image = std::size_t(m_geometry.pixels()) * rows * sizeof(T);
        const auto fit = m_options.chunk_bytes == 0 || image == 0
                             ? std::size_t(m_geometry.n)
                             : m_options.chunk_bytes * detail::thread_count() / image;
        return std::clamp<std::size_t>(fit, 1, std::max<std::size_t>(1, m_geometry.n));
    }

    // Output rows of images [first, last): row-major, so one contiguous block.
    std::size_t rows_of(std::ptrdiff_t first, std::ptrdiff_t last) const noexcept {
        return std::size_t((last - first) * m_geometry.pixels());
    }

    // Output rows of images from `first` on, as a pointer (or an offset from 0).
    template <class P>
    P output_rows(P y, std::ptrdiff_t first) const noexcept {
        return y + std::size_t(first * m_geometry.pixels()) * m_out_channels;
    }

    // Checks and pads x and fixes the geometry and chunking of this forward.
    void start_forward(const tensor<T>& x) {
        check_parameters();
        m_geometry = geometry_for(x);
        m_chunk_images = fit_chunk_images();
        const auto& g = m_geometry;
        m_padded.resize(shape2(x.shape(0), std::size_t(g.padded_image())));
        detail::pad_images(g, x.data(), 0, g.n, m_padded.data());
        m_output_shape = {x.shape(0), std::size_t(g.oh), std::size_t(g.ow), m_out_channels};
        m_col.resize(shape2(chunk_images() * std::size_t(g.pixels()), patch()));
    }

    // Calls f(first, last) for the chunks of images of the last forward, in order.
    template <class F>
    void for_each_chunk(F&& f) const {
        const auto step = std::ptrdiff_t(chunk_images());
        for (std::ptrdiff_t first = 0; first < m_geometry.n; first += step) {
            f(first, std::min(m_geometry.n, first + step));
        }
    }

    // y = col * W + b for images [first, last) into the rows at y; the bias goes in first
    // so that the product adds onto it (beta = 1) instead of BLAS zero-filling the rows.
    void forward_chunk(std::ptrdiff_t first, std::ptrdiff_t last, T* y) {
        const auto rows = rows_of(first, last);
        detail::im2col(m_geometry, m_padded.data(), first, last, m_col.data());
        m_col_first = first;
        detail::fill_rows(y, rows, m_bias.data(), m_out_channels);
        detail::gemm(T{1}, {m_col.data(), rows, patch()}, detail::op::none,
                     {m_weight.data(), patch(), m_out_channels}, detail::op::none, T{1},
                     {y, rows, m_out_channels}, "conv2d");
    }

    // Backward over the chunks of the last forward, last chunk first (forward left its
    // im2col rows in the workspace); rows(first, last) gives each chunk's dY rows.
    template <class Rows>
    const tensor<T>& backward_chunks(Rows&& rows) {
        m_weight_grad.resize(m_weight.shape());  // in case a caller reshaped them
        m_bias_grad.resize(m_bias.shape());
        std::fill_n(m_bias_grad.data(), m_bias_grad.size(), T{0});
        const bool input_gradient = m_options.compute_input_gradient;
        if (input_gradient) {
            m_input_grad.resize(m_input_shape);
            m_dcol.resize(m_col.shape());
            m_staging.resize(shape2(chunk_images() * std::size_t(m_geometry.h),
                                    std::size_t(m_geometry.padded_w() * m_geometry.c)));
        }
        const auto step = std::ptrdiff_t(chunk_images());
        const auto chunks = (m_geometry.n + step - 1) / step;
        if (chunks == 0) {
            std::fill_n(m_weight_grad.data(), m_weight_grad.size(), T{0});
        }
        for (auto k = chunks - 1; k >= 0; --k) {
            const auto first = k * step, last = std::min(m_geometry.n, (k + 1) * step);
            backward_chunk(rows(first, last), first, last, k == chunks - 1);
        }
        return input_gradient ? m_input_grad : m_empty;
    }

    // dW (+)= col^T dY, db += column sums of dY, and dX of images [first, last), from the
    // chunk's dY rows at dy.
    void backward_chunk(const T* dy, std::ptrdiff_t first, std::ptrdiff_t last,
                        bool overwrite) {
        const auto rows = rows_of(first, last);
        if (m_col_first != first) {
            detail::im2col(m_geometry, m_padded.data(), first, last, m_col.data());
            m_col_first = first;
        }
        detail::gemm(T{1}, {m_col.data(), rows, patch()}, detail::op::transpose,
                     {dy, rows, m_out_channels}, detail::op::none, overwrite ? T{0} : T{1},
                     {m_weight_grad.data(), patch(), m_out_channels}, "conv2d");
        detail::add_column_sums(dy, rows, m_out_channels, m_bias_grad.data());
        if (!m_options.compute_input_gradient) {
            return;
        }
        detail::gemm(T{1}, {dy, rows, m_out_channels}, detail::op::none,
                     {m_weight.data(), patch(), m_out_channels}, detail::op::transpose, T{0},
                     {m_dcol.data(), rows, patch()}, "conv2d");
        detail::col2im(m_geometry, m_dcol.data(), first, last, m_staging.data(),
                       m_input_grad.data());
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
    tensor<T> m_padded;      // the last input, zero-padded: [N, (H+2ph) (W+2pw) C_in]
    tensor<T> m_col;         // im2col rows of one chunk, [images*OH*OW, KH*KW*C_in]
    std::size_t m_chunk_images = 1;   // images per chunk of the last forward
    std::ptrdiff_t m_col_first = -1;  // first image of the chunk m_col holds
    typename tensor<T>::shape_type m_output_shape;  // of the last forward
    tensor<T> m_output;        // [N, OH, OW, C_out], from forward (not forward_into)
    tensor<T> m_chunk_output;  // one chunk of output rows, for forward_into
    tensor<T> m_chunk_grad;    // one chunk of output-gradient rows, for backward_from
    tensor<T> m_dcol;        // dY W^T of one chunk, the shape of m_col
    tensor<T> m_staging;     // col2im rows of one chunk, [images*H, (W+2pw) C_in]
    tensor<T> m_input_grad;  // [N, H, W, C_in]
    tensor<T> m_empty;       // what backward returns without an input gradient
};

}  // namespace poisson::nn
