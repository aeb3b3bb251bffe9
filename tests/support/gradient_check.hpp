#pragma once

/// @file
/// @brief The one finite-difference gradient checker every layer's tests use.
///
/// A scalar objective `L(y)` of the layer's output is differentiated two ways: analytically
/// (forward, then backward with `dL/dy`) and by central differences in double,
/// `(L(v + h) - L(v - h)) / 2h`, for each checked entry `v` of the input and of every
/// parameter the layer visits through `for_each_parameter`. Each entry's relative error is
/// `|a - n| / max(|a|, |n|, floor)`, and the report keeps the worst one per tensor.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "poisson/nn/layer.hpp"
#include "support/tensors.hpp"

namespace poisson::testing {

/// @brief Settings of a gradient check.
struct gradient_check_options {
    double step = 1e-5;           ///< central-difference step h
    double floor = 1e-4;          ///< denominator floor: gradients below it compare absolutely
    std::size_t max_entries = 0;  ///< entries checked per tensor, evenly spaced; 0 = all
    bool check_input = true;      ///< false for layers that skip the input gradient
    std::uint64_t seed = 2024;    ///< seed of the weights of the default objective
    /// Run before every forward call, e.g. to reset a random layer's step so each
    /// evaluation sees the same noise ("freezing" it).
    std::function<void()> before_forward;
};

/// @brief Result for one tensor (the input or one parameter).
struct tensor_check {
    std::string name;             ///< "input" or the parameter's name
    std::size_t checked = 0;      ///< entries compared
    double worst_error = 0.0;     ///< largest relative error
    std::size_t worst_index = 0;  ///< flat index of that entry
    double analytic = 0.0;        ///< backward's value there
    double numeric = 0.0;         ///< the central difference there
};

/// @brief Result of a gradient check: one entry per checked tensor.
struct gradient_check_report {
    std::vector<tensor_check> tensors;

    /// @brief The worst relative error over every checked tensor (infinite if the
    /// input gradient had the wrong shape).
    double worst_error() const {
        double worst = 0.0;
        for (const auto& t : tensors) {
            worst = std::max(worst, t.worst_error);
        }
        return worst;
    }

    /// @brief One line per tensor, for test failure messages.
    std::string summary() const {
        std::string out;
        for (const auto& t : tensors) {
            char line[256];
            std::snprintf(line, sizeof line,
                          "%s: %zu checked, worst %.3e at %zu (analytic %.6e, numeric %.6e)\n",
                          t.name.c_str(), t.checked, t.worst_error, t.worst_index, t.analytic,
                          t.numeric);
            out += line;
        }
        return out;
    }
};

namespace detail {

using dtensor = nn::tensor<double>;

struct parameter_ref {
    std::string name;
    dtensor* value;
    dtensor gradient;  // copied: later forwards may not touch it, but backward would
};

// The flat indices to check: all of them, or `max_entries` evenly spaced ones.
inline std::vector<std::size_t> entries_to_check(std::size_t size, std::size_t max_entries) {
    const std::size_t count = (max_entries == 0) ? size : std::min(size, max_entries);
    std::vector<std::size_t> out(count);
    for (std::size_t k = 0; k < count; ++k) {
        out[k] = k * size / count;
    }
    return out;
}

// Perturbs each checked entry of `values` by +-h, compares the central difference of
// `loss()` with `analytic`, and restores the entry exactly.
template <class Loss>
tensor_check compare(std::string name, dtensor& values, const dtensor& analytic, Loss&& loss,
                     const gradient_check_options& options) {
    tensor_check result{std::move(name)};
    for (const auto i : entries_to_check(values.size(), options.max_entries)) {
        const double original = values.flat(i);
        values.flat(i) = original + options.step;
        const double plus = loss();
        values.flat(i) = original - options.step;
        const double minus = loss();
        values.flat(i) = original;
        const double numeric = (plus - minus) / (2.0 * options.step);
        const double a = analytic.flat(i);
        const double scale = std::max({std::abs(a), std::abs(numeric), options.floor});
        const double error = std::abs(a - numeric) / scale;
        ++result.checked;
        if (error > result.worst_error || result.checked == 1) {
            result = {result.name, result.checked, error, i, a, numeric};
        }
    }
    return result;
}

}  // namespace detail

/// @brief Checks a double-valued layer's input and parameter gradients for the scalar
/// objective `objective(y, dy)`, which returns `L(y)` and writes `dL/dy` into `dy`.
template <class Layer, class Objective>
gradient_check_report check_gradients(Layer& layer, const nn::tensor<double>& input,
                                      Objective&& objective,
                                      const gradient_check_options& options = {}) {
    static_assert(nn::layer<Layer>, "check_gradients: the argument must be a layer");
    static_assert(std::is_same_v<typename Layer::value_type, double>,
                  "check_gradients: finite differences need a double-valued layer");
    detail::dtensor output_grad;
    const auto evaluate = [&](const detail::dtensor& x) {
        if (options.before_forward) {
            options.before_forward();
        }
        return objective(layer.forward(x), output_grad);
    };

    evaluate(input);
    const detail::dtensor input_grad = layer.backward(output_grad);
    std::vector<detail::parameter_ref> params;
    if constexpr (nn::has_parameters<Layer>) {
        layer.for_each_parameter(
            [&](std::string_view name, detail::dtensor& value, detail::dtensor& grad) {
                params.push_back({std::string(name), &value, grad});
            });
    }

    gradient_check_report report;
    detail::dtensor x = input;
    if (options.check_input && input_grad.shape() != x.shape()) {
        report.tensors.push_back({"input (backward returned a wrong shape)", 0,
                                  std::numeric_limits<double>::infinity()});
    } else if (options.check_input) {
        report.tensors.push_back(detail::compare(
            "input", x, input_grad, [&] { return evaluate(x); }, options));
    }
    for (auto& p : params) {
        report.tensors.push_back(detail::compare(
            p.name, *p.value, p.gradient, [&] { return evaluate(x); }, options));
    }
    return report;
}

/// @brief `check_gradients` with the objective `L(y) = sum_i r_i y_i`, where `r` is a fixed
/// tensor of uniforms on (-1, 1) drawn from `options.seed`: then `dL/dy = r`, an output
/// gradient with no structure a wrong backward could hide behind.
template <class Layer>
gradient_check_report check_layer_gradients(Layer& layer, const nn::tensor<double>& input,
                                            const gradient_check_options& options = {}) {
    nn::tensor<double> weights;
    const auto objective = [&](const nn::tensor<double>& y, nn::tensor<double>& dy) {
        if (weights.shape() != y.shape()) {
            weights = random_tensor<double>(y.shape(), options.seed);
        }
        dy = weights;
        double sum = 0.0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            sum += weights.flat(i) * y.flat(i);
        }
        return sum;
    };
    return check_gradients(layer, input, objective, options);
}

}  // namespace poisson::testing
