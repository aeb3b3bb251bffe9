#pragma once

/// @file
/// @brief Row-wise helpers for bias terms: broadcast a row, sum the rows.

#include <algorithm>
#include <cstddef>

#include "poisson/nn/detail/parallel.hpp"

namespace poisson::nn::detail {

/// @brief Writes `row` (length `cols`) into each of the `rows` rows of the row-major `out`.
template <class T>
void fill_rows(T* out, std::size_t rows, const T* row, std::size_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols >= parallel_threshold)
    for (std::size_t r = 0; r < rows; ++r) {
        std::copy_n(row, cols, out + r * cols);
    }
}

/// @brief `sums[c] += sum_r a[r, c]` over the row-major `rows x cols` matrix `a`.
template <class T>
void add_column_sums(const T* a, std::size_t rows, std::size_t cols, T* sums) {
    // Row by row, so the inner loop runs over contiguous memory and vectorises.
    for (std::size_t r = 0; r < rows; ++r) {
        const T* row = a + r * cols;
        for (std::size_t c = 0; c < cols; ++c) {
            sums[c] += row[c];
        }
    }
}

/// @brief `sums[c] = sum_r a[r, c]` over the row-major `rows x cols` matrix `a`.
template <class T>
void column_sums(const T* a, std::size_t rows, std::size_t cols, T* sums) {
    std::fill_n(sums, cols, T{0});
    add_column_sums(a, rows, cols, sums);
}

}  // namespace poisson::nn::detail
