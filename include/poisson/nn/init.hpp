#pragma once

/// @file
/// @brief Weight initialisers. Each takes its engine explicitly; there is no global RNG.
///
/// Uniforms come from the engine's bits through `open_unit_double` and normals from our
/// own Marsaglia polar method (not `std::normal_distribution`, whose algorithm differs
/// between standard libraries), so a seed gives the same weights everywhere.

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <utility>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"
#include "poisson/random/std_engine.hpp"
#include "poisson/random/uniform.hpp"

/// @brief Weight initialisers, each drawing from an engine passed in explicitly.
namespace poisson::nn::init {

/// @brief A uniform on the open interval (0, 1) from 64 bits of `engine`.
template <std::uniform_random_bit_generator G>
double uniform_open(G& engine) {
    return open_unit_double(poisson::detail::draw_bits<64>(engine));
}

/// @brief Two independent standard normals by the Marsaglia polar method (1964): draw
/// `(u, v)` uniform on the square (-1, 1)^2 until `0 < s = u^2 + v^2 < 1`, then return
/// `(u, v) * sqrt(-2 ln(s) / s)`.
template <std::uniform_random_bit_generator G>
std::pair<double, double> standard_normal_pair(G& engine) {
    for (;;) {
        const double u = 2.0 * uniform_open(engine) - 1.0;
        const double v = 2.0 * uniform_open(engine) - 1.0;
        const double s = u * u + v * v;
        if (s > 0.0 && s < 1.0) {
            const double factor = std::sqrt(-2.0 * std::log(s) / s);
            return {u * factor, v * factor};
        }
    }
}

/// @brief Standard normals one at a time, from pairs: the second of each pair is kept for
/// the next call. Lives for one fill, so no state outlasts a call.
template <std::uniform_random_bit_generator G>
class normal_draws {
public:
    /// @brief Draws from `engine`, which must outlive this object.
    explicit normal_draws(G& engine) noexcept : m_engine(engine) {}

    /// @brief The next standard normal.
    double next() {
        if (m_has_spare) {
            m_has_spare = false;
            return m_spare;
        }
        const auto [a, b] = standard_normal_pair(m_engine);
        m_spare = b;
        m_has_spare = true;
        return a;
    }

private:
    G& m_engine;
    double m_spare = 0.0;
    bool m_has_spare = false;
};

/// @brief Fan-in and fan-out of a weight tensor.
struct fans {
    std::size_t in;   ///< inputs feeding one output unit
    std::size_t out;  ///< outputs fed by one input unit
};

/// @brief Fans of a weight of shape `[..., in, out]` (dense `[in, out]`, conv2d
/// `[KH, KW, C_in, C_out]`): with `r` the product of the leading (receptive-field) axes,
/// `in = r * shape[-2]` and `out = r * shape[-1]`. Throws `invalid_argument` below rank 2.
template <class Shape>
fans compute_fans(const Shape& shape) {
    const std::size_t rank = shape.size();
    if (rank < 2) {
        throw invalid_argument("init: fans need a weight of rank >= 2, got shape " +
                               nn::detail::shape_string(shape));
    }
    std::size_t receptive = 1;
    for (std::size_t i = 0; i + 2 < rank; ++i) {
        receptive *= shape[i];
    }
    return {receptive * shape[rank - 2], receptive * shape[rank - 1]};
}

/// @brief Fills `t` with normals of mean `mean` and standard deviation `stddev`, each
/// redrawn until it lies within two standard deviations of the mean (the truncated normal
/// of TensorFlow's `truncated_normal`, used with `stddev = 0.1` by its deep-MNIST
/// tutorial). The result has standard deviation about `0.88 * stddev`.
/// Throws `invalid_argument` for a negative or non-finite `stddev`.
template <class T, std::uniform_random_bit_generator G>
void truncated_normal(tensor<T>& t, G& engine, double stddev = 0.1, double mean = 0.0) {
    if (!(stddev >= 0.0 && std::isfinite(stddev))) {
        throw invalid_argument("init::truncated_normal: stddev is " + std::to_string(stddev) +
                               ", expected a finite value >= 0");
    }
    normal_draws<G> normal(engine);
    for (auto& value : t) {
        double z;
        do {
            z = normal.next();
        } while (std::abs(z) > 2.0);
        value = static_cast<T>(mean + stddev * z);
    }
}

/// @brief Fills `t` with `value` (0.1 by default: the tutorial's bias, which keeps ReLU
/// units active at the start).
template <class T>
void constant(tensor<T>& t, double value = 0.1) {
    t.fill(static_cast<T>(value));
}

/// @brief He initialisation (He et al., 2015) for ReLU networks: normal with mean 0 and
/// standard deviation `sqrt(2 / fan_in)`, fan-in from `compute_fans(t.shape())`.
template <class T, std::uniform_random_bit_generator G>
void he_normal(tensor<T>& t, G& engine) {
    const double stddev = std::sqrt(2.0 / static_cast<double>(compute_fans(t.shape()).in));
    normal_draws<G> normal(engine);
    for (auto& value : t) {
        value = static_cast<T>(stddev * normal.next());
    }
}

/// @brief Glorot (Xavier) uniform initialisation (Glorot and Bengio, 2010): uniform on
/// `(-a, a)` with `a = sqrt(6 / (fan_in + fan_out))`, fans from `compute_fans(t.shape())`.
template <class T, std::uniform_random_bit_generator G>
void glorot_uniform(tensor<T>& t, G& engine) {
    const auto f = compute_fans(t.shape());
    const double limit = std::sqrt(6.0 / static_cast<double>(f.in + f.out));
    for (auto& value : t) {
        value = static_cast<T>(limit * (2.0 * uniform_open(engine) - 1.0));
    }
}

}  // namespace poisson::nn::init
