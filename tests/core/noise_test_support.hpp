#pragma once

// Helpers shared by the noise-layer tests.

#include <omp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
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

/// A counter-based provider that is not `philox` (the layer serves it through the generic
/// lane streams) and gives the streams of `philox(77, 2)`.
struct other_counter_provider {
    static constexpr bool is_counter_based = true;
    philox inner{77, 2};
    philox_stream stream(const stream_key& key) const { return inner.stream(key); }
    std::string state() const { return inner.state(); }
    void restore(std::string_view text) { inner.restore(text); }
};

/// The training forward pass of a fresh `make_layer()` on `rates` with `threads` OpenMP
/// threads; the thread count is restored afterwards.
template <class MakeLayer, class T>
xt::xarray<T> forward_on_threads(int threads, MakeLayer make_layer, const xt::xarray<T>& rates) {
    omp_set_num_threads(threads);
    auto layer = make_layer();
    xt::xarray<T> out = layer.forward(rates);
    omp_set_num_threads(omp_get_num_procs());
    return out;
}

}  // namespace poisson::test
