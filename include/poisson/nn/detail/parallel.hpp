#pragma once

/// @file
/// @brief When the layers' OpenMP loops are worth running on several threads.

#include <cstddef>

namespace poisson::nn::detail {

/// @brief Loops over fewer values than this run on the calling thread: waking the thread
/// team costs microseconds, more than such a loop (a bias, a 100 x 10 logit gradient).
inline constexpr std::size_t parallel_threshold = std::size_t{1} << 15;

}  // namespace poisson::nn::detail
