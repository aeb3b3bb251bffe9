// custom_policy: writing your own policies for poisson::noise_layer.
//
// A noise layer is put together from four policies, one per axis, and each axis is a C++20
// concept that names everything the layer will ask of a policy:
//
//   gradient_estimator    how one element is sampled and differentiated   estimator/concepts.hpp
//   k_rule                how many counts a truncating estimator keeps     k_rule/concepts.hpp
//   temperature_schedule  the softmax temperature at each training step    temperature/concepts.hpp
//   rng_provider          where the uniform random numbers come from       random/concepts.hpp
//
// A policy is an ordinary class; it needs no base class and no registration. This program
// writes a temperature schedule (cosine annealing) and a k rule (the batch maximum plus a
// fixed margin), plugs them into a noise layer, and prints the k and tau the layer uses over
// a few steps. It exits with status 1 if the layer used anything else.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include "poisson/errors.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/k_rule/concepts.hpp"
#include "poisson/noise_layer.hpp"
#include "poisson/random/philox.hpp"
#include "poisson/temperature/concepts.hpp"

// --- A temperature schedule ----------------------------------------------------------------
//
// What a schedule must provide: a const member function
//
//     double temperature(std::uint64_t step) const;
//
// (any return type convertible to double will do). `step` counts the layer's training forward
// passes, from 0. The layer asks once per training pass, before it samples, and
//   * checks the answer: anything but a finite value > 0 makes it throw
//     poisson::invalid_argument naming the layer and the step;
//   * owns the step counter and saves it in checkpoints, so the schedule should be a pure
//     function of the step (no state of its own): a resumed run then sees the same
//     temperatures as an uninterrupted one.
// Check the parameters in the constructor, so a bad schedule fails before training starts.

/// Cosine annealing (Loshchilov and Hutter, "SGDR: stochastic gradient descent with warm
/// restarts", ICLR 2017) applied to the temperature: from `tau_max` at step 0 down to
/// `tau_min` at step `steps`, and `tau_min` after that,
///
///     tau(t) = tau_min + (tau_max - tau_min) * (1 + cos(pi * min(t, steps) / steps)) / 2.
class cosine_temperature {
public:
    cosine_temperature(double tau_max, double tau_min, std::uint64_t steps)
        : m_tau_max(tau_max), m_tau_min(tau_min), m_steps(steps) {
        if (!(tau_min > 0.0 && tau_min <= tau_max && std::isfinite(tau_max)) || steps == 0) {
            throw poisson::invalid_argument(
                "cosine_temperature: expected 0 < tau_min <= tau_max (finite) and steps >= 1");
        }
    }

    double temperature(std::uint64_t step) const {
        const double t = double(std::min(step, m_steps)) / double(m_steps);
        return m_tau_min + (m_tau_max - m_tau_min) * (1.0 + std::cos(std::numbers::pi * t)) / 2;
    }

private:
    double m_tau_max;
    double m_tau_min;
    std::uint64_t m_steps;
};

// The concept is the whole contract: if this holds, noise_layer accepts the class.
static_assert(poisson::temperature_schedule<cosine_temperature>);

// --- A k rule --------------------------------------------------------------------------------
//
// What a k rule must provide: a const member function
//
//     std::size_t select_k(double max_rate) const;
//
// (any return type convertible to std::size_t). The layer calls it once per training pass
// with the largest rate of the batch, a finite value >= 0, and the truncating estimators then
// sample from the Poisson distribution truncated to the counts 0..k: k + 1 categories, the
// lost mass being P(X > k) at each element's own rate. The layer refuses a k above
// noise_options::max_k (4096 unless you set it), so the rule needs no cap of its own. The work
// per element grows with the categories that matter near its rate, not with k itself, but a
// k below the rates cuts off real counts: the top count k then absorbs the whole tail.

/// "Maximum plus a fixed margin": `k = ceil(m) + margin`, with `m` the batch's largest rate.
///
/// Unlike the library's batch_max, whose margin `4 sqrt(m)` grows with the rate, this one
/// keeps a fixed number of counts above the maximum. That is generous for small rates and too
/// little for large ones, as the truncated mass printed below shows.
class max_plus_margin {
public:
    explicit max_plus_margin(std::size_t margin) : m_margin(margin) {}

    std::size_t select_k(double max_rate) const {
        return static_cast<std::size_t>(std::ceil(max_rate)) + m_margin;
    }

private:
    std::size_t m_margin;
};

static_assert(poisson::k_rule<max_plus_margin>);

// --- Plugging them in ------------------------------------------------------------------------

// The policies are template arguments; their values are constructor arguments, in the order
// RNG provider, options, k rule, temperature schedule, estimator.
using layer_type = poisson::noise_layer<poisson::straight_through_gumbel, max_plus_margin,
                                        cosine_temperature, poisson::philox, float>;

namespace {

// A ReLU-like batch: half exact zeros, the rest spread evenly over (0, max_rate].
xt::xarray<float> rates_up_to(float max_rate) {
    xt::xarray<float> rates = xt::xarray<float>::from_shape({8, 64});
    for (std::size_t i = 0; i < rates.size(); ++i) {
        rates.data()[i] = i % 2 ? max_rate * float(i % 50 + 1) / 50.0f : 0.0f;
    }
    return rates;
}

}  // namespace

int main() {
    const max_plus_margin rule(8);
    const cosine_temperature schedule(2.0, 0.5, 6);
    poisson::noise_options options;
    options.name = "demo";
    // Braces, not parentheses: `layer_type layer(poisson::philox(seed));` with a variable
    // `seed` would declare a function (C++'s "most vexing parse").
    layer_type layer{poisson::philox{2024}, options, rule, schedule};

    std::printf("%4s %9s %4s %6s %14s %10s %11s\n", "step", "max rate", "k", "tau",
                "P(X > k; max)", "mean rate", "mean count");
    bool as_expected = true;
    for (std::uint64_t step = 0; step < 8; ++step) {
        const xt::xarray<float> rates = rates_up_to(1.0f + 7.0f * float(step));  // they grow
        const auto& noisy = layer.forward(rates);
        const auto& d = layer.diagnostics();  // what this pass used
        std::printf("%4llu %9.1f %4zu %6.3f %14.2e %10.3f %11.3f\n",
                    static_cast<unsigned long long>(d.step), d.max_rate, d.k, d.temperature,
                    d.truncated_mass, double(xt::mean(rates)()), double(xt::mean(noisy)()));
        as_expected = as_expected && d.k == rule.select_k(d.max_rate) &&
                      std::abs(d.temperature - schedule.temperature(step)) < 1e-6;
        // Backward multiplies the incoming gradient by each element's derivative,
        // Var_y(i) / (tau * rate) for this estimator; here the gradient is all ones.
        layer.backward(xt::ones_like(noisy));
    }
    return as_expected ? 0 : 1;
}
