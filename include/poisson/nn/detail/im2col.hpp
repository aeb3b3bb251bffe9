#pragma once

/// @file
/// @brief im2col and its adjoint for NHWC images, on zero-padded copies of the images.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "poisson/nn/detail/parallel.hpp"

namespace poisson::nn::detail {

/// @brief Sizes of one convolution call, signed so that index arithmetic stays signed.
struct conv_geometry {
    std::ptrdiff_t n = 0, h = 0, w = 0, c = 0;      ///< input batch, height, width, channels
    std::ptrdiff_t oh = 0, ow = 0;                  ///< output height and width
    std::ptrdiff_t kh = 0, kw = 0;                  ///< kernel height and width
    std::ptrdiff_t sh = 1, sw = 1, ph = 0, pw = 0;  ///< strides and zero paddings

    /// @brief Length of one im2col row: a `kh x kw x c` patch.
    std::ptrdiff_t patch() const noexcept { return kh * kw * c; }
    /// @brief Values one kernel row takes from one image row: `kw * c`, contiguous in NHWC.
    std::ptrdiff_t run() const noexcept { return kw * c; }
    /// @brief Height of a padded image.
    std::ptrdiff_t padded_h() const noexcept { return h + 2 * ph; }
    /// @brief Width of a padded image.
    std::ptrdiff_t padded_w() const noexcept { return w + 2 * pw; }
    /// @brief Values in one padded image.
    std::ptrdiff_t padded_image() const noexcept { return padded_h() * padded_w() * c; }
    /// @brief Output pixels (im2col rows) of one image.
    std::ptrdiff_t pixels() const noexcept { return oh * ow; }
};

/// @brief Copies images `[first, last)` of the NHWC batch `x` into `padded`, each image
/// surrounded by `ph` zero rows and `pw` zero columns; `padded` holds the whole batch.
template <class T>
void pad_images(const conv_geometry& g, const T* x, std::ptrdiff_t first, std::ptrdiff_t last,
                T* padded) {
    const auto row = g.padded_w() * g.c, border = g.pw * g.c, inner = g.w * g.c;
#pragma omp parallel for collapse(2) schedule(static) \
    if (std::size_t((last - first) * g.padded_image()) >= parallel_threshold)
    for (std::ptrdiff_t n = first; n < last; ++n) {
        for (std::ptrdiff_t r = 0; r < g.padded_h(); ++r) {
            T* dst = padded + n * g.padded_image() + r * row;
            const auto h = r - g.ph;
            if (h < 0 || h >= g.h) {
                std::fill_n(dst, row, T{0});
                continue;
            }
            std::fill_n(dst, border, T{0});
            std::copy_n(x + (n * g.h + h) * inner, inner, dst + border);
            std::fill_n(dst + border + inner, border, T{0});
        }
    }
}

/// @brief `Run` values from `src` to `dst` (`run` when `Run` is 0). Copies of a size known
/// at compile time become a few moves instead of a `memcpy` call: the whole run for the
/// 5-value runs of a 1-channel 5x5 kernel, 64-byte blocks for long runs (about 10% faster
/// than calling `memcpy` for the 640-byte runs of a 32-channel one).
template <std::ptrdiff_t Run, class T>
inline void copy_run(const T* src, T* dst, std::ptrdiff_t run) {
    if constexpr (Run > 0) {
        std::memcpy(dst, src, std::size_t(Run) * sizeof(T));
    } else {
        constexpr std::ptrdiff_t block = 64 / sizeof(T);
        std::ptrdiff_t i = 0;
        for (; i + block <= run; i += block) {
            std::memcpy(dst + i, src + i, 64);
        }
        std::memcpy(dst + i, src + i, std::size_t(run - i) * sizeof(T));
    }
}

/// @brief `dst += src` over `Run` values (`run` when `Run` is 0).
template <std::ptrdiff_t Run, class T>
inline void add_run(const T* src, T* dst, std::ptrdiff_t run) {
    const auto count = Run > 0 ? Run : run;
    for (std::ptrdiff_t i = 0; i < count; ++i) {
        dst[i] += src[i];
    }
}

/// @brief Calls `f(std::integral_constant<std::ptrdiff_t, R>{})` with `R = run` for the short
/// runs of few-channel kernels, and with `R = 0` (length known only at run time) otherwise.
template <class F>
decltype(auto) with_run_length(std::ptrdiff_t run, F&& f) {
    using std::integral_constant;
    switch (run) {
        case 1: return f(integral_constant<std::ptrdiff_t, 1>{});
        case 2: return f(integral_constant<std::ptrdiff_t, 2>{});
        case 3: return f(integral_constant<std::ptrdiff_t, 3>{});
        case 4: return f(integral_constant<std::ptrdiff_t, 4>{});
        case 5: return f(integral_constant<std::ptrdiff_t, 5>{});
        case 6: return f(integral_constant<std::ptrdiff_t, 6>{});
        case 7: return f(integral_constant<std::ptrdiff_t, 7>{});
        case 8: return f(integral_constant<std::ptrdiff_t, 8>{});
        default: return f(integral_constant<std::ptrdiff_t, 0>{});
    }
}

/// @brief im2col of images `[first, last)`: row `((n - first) * oh + i) * ow + j` of `col`
/// is the `kh x kw x c` patch of output pixel (i, j) of image n, read from the padded batch.
///
/// Every kernel row of a patch is one contiguous run of a padded image row, so the patch is
/// `kh` copies and padding needs no test. Each (image, output row) pair writes its own rows
/// of `col`, so both loops split across threads.
template <class T>
void im2col(const conv_geometry& g, const T* padded, std::ptrdiff_t first, std::ptrdiff_t last,
            T* col) {
    with_run_length(g.run(), [&](auto fixed) {
        constexpr std::ptrdiff_t Run = decltype(fixed)::value;
        const auto run = g.run(), patch = g.patch(), row = g.padded_w() * g.c;
#pragma omp parallel for collapse(2) schedule(static) \
    if (std::size_t((last - first) * g.pixels() * patch) >= parallel_threshold)
        for (std::ptrdiff_t n = first; n < last; ++n) {
            for (std::ptrdiff_t i = 0; i < g.oh; ++i) {
                const T* top = padded + n * g.padded_image() + i * g.sh * row;
                T* out = col + ((n - first) * g.oh + i) * g.ow * patch;
                for (std::ptrdiff_t j = 0; j < g.ow; ++j) {
                    const T* src = top + j * g.sw * g.c;
                    for (std::ptrdiff_t u = 0; u < g.kh; ++u) {
                        copy_run<Run>(src + u * row, out + u * run, run);
                    }
                    out += patch;
                }
            }
        }
    });
}

/// @brief The adjoint of `im2col` for images `[first, last)`: adds each patch row of `dcol`
/// back onto the pixels it was copied from and writes those images of the unpadded batch
/// `dx` (overwriting them; padding is dropped).
///
/// Patches overlap, so the work is split by input row: each (image, input row) gathers the
/// runs of every patch row that covers it into its own padded-width row of `staging`
/// (`(last - first) * h * padded_w * c` values), then copies the row's interior out.
template <class T>
void col2im(const conv_geometry& g, const T* dcol, std::ptrdiff_t first, std::ptrdiff_t last,
            T* staging, T* dx) {
    with_run_length(g.run(), [&](auto fixed) {
        constexpr std::ptrdiff_t Run = decltype(fixed)::value;
        const auto run = g.run(), patch = g.patch(), row = g.padded_w() * g.c;
#pragma omp parallel for collapse(2) schedule(static) \
    if (std::size_t((last - first) * g.pixels() * patch) >= parallel_threshold)
        for (std::ptrdiff_t n = first; n < last; ++n) {
            for (std::ptrdiff_t h = 0; h < g.h; ++h) {
                T* sum = staging + ((n - first) * g.h + h) * row;
                std::fill_n(sum, row, T{0});
                for (std::ptrdiff_t u = 0; u < g.kh; ++u) {
                    // Output row i reads padded row i*sh + u; this is padded row h + ph.
                    const auto t = h + g.ph - u;
                    if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) {
                        continue;
                    }
                    const T* src = dcol + ((n - first) * g.oh + t / g.sh) * g.ow * patch;
                    for (std::ptrdiff_t j = 0; j < g.ow; ++j) {
                        add_run<Run>(src + j * patch + u * run, sum + j * g.sw * g.c, run);
                    }
                }
                std::copy_n(sum + g.pw * g.c, g.w * g.c, dx + (n * g.h + h) * g.w * g.c);
            }
        }
    });
}

}  // namespace poisson::nn::detail
