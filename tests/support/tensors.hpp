#pragma once

// Small tensor helpers shared by the tests: seeded random fills and comparisons.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "poisson/nn/layer.hpp"
#include "poisson/random/uniform.hpp"

namespace poisson::testing {

/// @brief A tensor of the given shape with values uniform on (lo, hi), from a seeded
/// mt19937_64 (the bits-to-uniform map is ours, so every standard library agrees).
template <class T>
nn::tensor<T> random_tensor(const typename nn::tensor<T>::shape_type& shape, std::uint64_t seed,
                            double lo = -1.0, double hi = 1.0) {
    std::mt19937_64 engine(seed);
    auto out = nn::tensor<T>::from_shape(shape);
    for (auto& v : out) {
        v = static_cast<T>(lo + (hi - lo) * open_unit_double(engine()));
    }
    return out;
}

/// @brief Largest |a - b| over two tensors of the same size, in double.
template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
    double worst = 0.0;
    auto ia = a.begin();
    for (auto ib = b.begin(); ib != b.end(); ++ia, ++ib) {
        worst = std::max(worst, std::abs(static_cast<double>(*ia) - static_cast<double>(*ib)));
    }
    return worst;
}

/// @brief Largest |value| of a tensor, in double.
template <class A>
double max_abs(const A& a) {
    double worst = 0.0;
    for (const auto& v : a) {
        worst = std::max(worst, std::abs(static_cast<double>(v)));
    }
    return worst;
}

/// @brief Comparison tolerance for results computed in `T` against a double reference.
template <class T>
constexpr double tolerance() {
    return sizeof(T) == sizeof(float) ? 1e-5 : 1e-12;
}

}  // namespace poisson::testing
