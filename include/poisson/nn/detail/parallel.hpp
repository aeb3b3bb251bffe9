#pragma once

/// @file
/// @brief When the layers' OpenMP loops are worth running on several threads.

#include <cstddef>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace poisson::nn::detail {

/// @brief Loops over fewer values than this run on the calling thread: waking the thread
/// team costs microseconds, more than such a loop (a bias, a 100 x 10 logit gradient).
inline constexpr std::size_t parallel_threshold = std::size_t{1} << 15;

/// @brief Threads a parallel loop started here would get (1 without OpenMP).
inline std::size_t thread_count() noexcept {
#ifdef _OPENMP
    return static_cast<std::size_t>(omp_get_max_threads());
#else
    return 1;
#endif
}

}  // namespace poisson::nn::detail
