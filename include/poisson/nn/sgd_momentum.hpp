#pragma once

/// @file
/// @brief Stochastic gradient descent with momentum, in the report's form.

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xbuilder.hpp>

#include "poisson/errors.hpp"
#include "poisson/nn/detail/parallel.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

/// @brief Hyper-parameters of `sgd_momentum` (the report's values by default).
struct sgd_momentum_config {
    double learning_rate = 1e-4;  ///< eta, >= 0
    double momentum = 0.9;        ///< gamma, in [0, 1)
};

/// @brief SGD with momentum as the report writes it: for each parameter `theta` with
/// gradient `g`,
///
///     v     = gamma * v + eta * g
///     theta = theta - v
///
/// with `v = 0` before the first step: Polyak's heavy-ball method ("Some methods of speeding
/// up the convergence of iteration methods", 1964) as Dutta's report writes it (section 4,
/// equations 4 and 5).
///
/// PyTorch's `SGD(momentum=gamma)` instead keeps `u = gamma * u + g` and steps
/// `theta -= eta * u`. With a constant `eta`, `v = eta * u` at every step and the two
/// produce identical parameters. They differ when `eta` changes during training: here
/// the velocity carries the old rate on past gradients and only new gradients get the new
/// one (a change takes effect gradually), while PyTorch rescales the whole accumulated
/// velocity by the new rate at once.
///
/// The configuration is kept apart from the per-run state, which is one velocity tensor
/// per parameter, created (at zero) on the first step and visible by parameter name
/// through `for_each_state` for checkpoints.
template <class T>
class sgd_momentum {
public:
    /// @brief Element type of parameters and velocities.
    using value_type = T;

    /// @brief An optimizer with the given hyper-parameters. Throws `invalid_argument` for a
    /// negative or non-finite learning rate, or a momentum outside [0, 1).
    explicit sgd_momentum(const sgd_momentum_config& config = {}) : m_config(config) {
        check_learning_rate(config.learning_rate);
        if (!(config.momentum >= 0.0 && config.momentum < 1.0)) {
            throw invalid_argument("sgd_momentum: momentum is " +
                                   std::to_string(config.momentum) +
                                   ", expected a value in [0, 1)");
        }
    }

    /// @brief One update of every parameter `model` visits through `for_each_parameter`,
    /// from the gradients its last backward left. Throws `invalid_argument` if the
    /// parameters' names or shapes differ from those the velocities were created for.
    template <has_parameters Model>
    void step(Model& model) {
        init_state(model);
        const T gamma = static_cast<T>(m_config.momentum);
        const T eta = static_cast<T>(m_config.learning_rate);
        std::size_t i = 0;
        model.for_each_parameter([&](std::string_view name, tensor<T>& value, tensor<T>& grad) {
            check_matches(i, name, value, grad);
            update(value.data(), grad.data(), m_velocities[i].data(), value.size(), gamma, eta);
            ++i;
        });
        if (i != m_velocities.size()) {
            throw invalid_argument("sgd_momentum: the model has " + std::to_string(i) +
                                   " parameters, the optimizer holds " +
                                   std::to_string(m_velocities.size()) + " velocities");
        }
    }

    /// @brief Creates zero velocities for `model`'s parameters unless they exist already
    /// (e.g. so that a checkpoint can be loaded into them before the first step).
    template <has_parameters Model>
    void init_state(Model& model) {
        if (!m_velocities.empty()) {
            return;
        }
        model.for_each_parameter([&](std::string_view name, tensor<T>& value, tensor<T>&) {
            m_names.emplace_back(name);
            m_velocities.push_back(xt::zeros<T>(value.shape()));
        });
    }

    /// @brief Calls `visit(name, velocity)` for each velocity, in parameter order.
    template <class Visit>
    void for_each_state(Visit&& visit) {
        for (std::size_t i = 0; i < m_velocities.size(); ++i) {
            visit(std::string_view(m_names[i]), m_velocities[i]);
        }
    }

    /// @brief Drops the velocities: the next step starts again from zero.
    void reset() noexcept {
        m_names.clear();
        m_velocities.clear();
    }

    /// @brief The hyper-parameters.
    const sgd_momentum_config& config() const noexcept { return m_config; }
    /// @brief The learning rate eta.
    double learning_rate() const noexcept { return m_config.learning_rate; }
    /// @brief Sets eta for the following steps (a schedule). Throws `invalid_argument` for a
    /// negative or non-finite rate.
    void set_learning_rate(double learning_rate) {
        check_learning_rate(learning_rate);
        m_config.learning_rate = learning_rate;
    }

private:
    static void check_learning_rate(double rate) {
        if (!(rate >= 0.0 && std::isfinite(rate))) {
            throw invalid_argument("sgd_momentum: learning rate is " + std::to_string(rate) +
                                   ", expected a finite value >= 0");
        }
    }

    void check_matches(std::size_t i, std::string_view name, const tensor<T>& value,
                       const tensor<T>& grad) const {
        if (i >= m_velocities.size() || m_names[i] != name ||
            m_velocities[i].shape() != value.shape() || grad.shape() != value.shape()) {
            throw invalid_argument(
                "sgd_momentum: parameter " + std::to_string(i) + " \"" + std::string(name) +
                "\" has shape " + detail::shape_string(value.shape()) + " and gradient " +
                detail::shape_string(grad.shape()) + ", which do not match the velocity " +
                (i < m_velocities.size() ? "\"" + m_names[i] + "\" " +
                                               detail::shape_string(m_velocities[i].shape())
                                         : std::string("(none)")));
        }
    }

    static void update(T* theta, const T* grad, T* v, std::size_t n, T gamma, T eta) {
#pragma omp parallel for simd schedule(static) if (n >= detail::parallel_threshold)
        for (std::size_t k = 0; k < n; ++k) {
            v[k] = gamma * v[k] + eta * grad[k];
            theta[k] -= v[k];
        }
    }

    sgd_momentum_config m_config;
    std::vector<std::string> m_names;
    std::vector<tensor<T>> m_velocities;
};

}  // namespace poisson::nn
