#pragma once

// Helpers shared by the noise-layer tests.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <xtensor/xarray.hpp>

#include "poisson/estimator/concepts.hpp"
#include "poisson/random/philox.hpp"

namespace poisson::test {

/// Samples one element the way the layer does, through the estimator alone.
template <class Estimator, class T>
noise_sample<T> sample_element(const Estimator& estimator, T rate, std::size_t k, T tau,
                               const philox& rng, stream_key key) {
    std::vector<T> scratch(2 * (k + 1));
    const noise_context<T> context{k, tau, scratch};
    auto stream = rng.stream(key);
    return estimator.sample(rate, context, stream);
}

/// A flat tensor of `n` copies of `rate`.
template <class T>
xt::xarray<T> filled(std::size_t n, T rate) {
    xt::xarray<T> rates = xt::xarray<T>::from_shape({n});
    rates.fill(rate);
    return rates;
}

}  // namespace poisson::test
