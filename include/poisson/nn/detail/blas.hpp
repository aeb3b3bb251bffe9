#pragma once

/// @file
/// @brief Row-major matrix product on raw, contiguous buffers, through xtensor-blas's cxxblas.

#include <climits>
#include <complex>  // cxxblas uses std::complex and <type_traits> without including them
#include <cstddef>
#include <string>
#include <type_traits>

#include <xtensor-blas/xblas_config.hpp>
#include <xflens/cxxblas/cxxblas.cxx>

#include "poisson/errors.hpp"

namespace poisson::nn::detail {

/// @brief A read-only row-major matrix: `rows x cols` values, rows `cols` apart.
template <class T>
struct const_matrix {
    const T* data;
    std::size_t rows;
    std::size_t cols;
};

/// @brief A writable row-major matrix: `rows x cols` values, rows `cols` apart.
template <class T>
struct matrix {
    T* data;
    std::size_t rows;
    std::size_t cols;
};

/// @brief Whether gemm uses a matrix as stored or its transpose.
enum class op { none, transpose };

/// @brief Converts a size to BLAS's index type, or throws if BLAS cannot address it.
inline xt::blas_index_t blas_index(std::size_t n, const char* component) {
    if (n > static_cast<std::size_t>(INT_MAX)) {
        throw invalid_argument(std::string(component) + ": matrix dimension " +
                               std::to_string(n) + " exceeds the BLAS index range");
    }
    return static_cast<xt::blas_index_t>(n);
}

/// @brief `C = alpha * op_a(A) * op_b(B) + beta * C`, one sgemm/dgemm call.
///
/// Requires (unchecked, the callers size their buffers): op_a(A) is `C.rows x k`, op_b(B) is
/// `k x C.cols`. `component` names the caller in the error thrown for oversized matrices.
template <class T>
void gemm(T alpha, const_matrix<T> a, op op_a, const_matrix<T> b, op op_b, T beta, matrix<T> c,
          const char* component) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "gemm: BLAS works on float or double");
    const auto k = op_a == op::none ? a.cols : a.rows;
    const auto trans = [](op o) { return o == op::none ? cxxblas::NoTrans : cxxblas::Trans; };
    // Leading dimensions must be >= 1 even for empty matrices.
    const auto ld = [&](std::size_t cols) { return blas_index(cols == 0 ? 1 : cols, component); };
    if (c.rows == 0 || c.cols == 0) {
        return;
    }
    cxxblas::gemm<xt::blas_index_t>(cxxblas::RowMajor, trans(op_a), trans(op_b),
                                    blas_index(c.rows, component), blas_index(c.cols, component),
                                    blas_index(k, component), alpha, a.data, ld(a.cols), b.data,
                                    ld(b.cols), beta, c.data, ld(c.cols));
}

}  // namespace poisson::nn::detail
