#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "poisson/errors.hpp"
#include "poisson/nn/dropout.hpp"
#include "poisson/random/std_engine.hpp"
#include "support/gradient_check.hpp"
#include "support/tensors.hpp"

namespace {

using poisson::nn::dropout;
using poisson::nn::tensor;
using poisson::testing::random_tensor;

std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// A minimal counter-based provider: each (step, element) hashes to its own stream, so any
// order of evaluation gives the same uniforms. Stands in for the Philox provider.
struct hash_provider {
    static constexpr bool is_counter_based = true;
    std::uint64_t seed = 1;

    struct stream_type {
        std::uint64_t state;
        template <class U>
        U next() {
            state = splitmix64(state);
            if constexpr (std::is_same_v<U, float>) {
                return poisson::open_unit_float(static_cast<std::uint32_t>(state >> 32));
            } else {
                return poisson::open_unit_double(state);
            }
        }
    };

    stream_type stream(const poisson::stream_key& key) const {
        return {splitmix64(seed ^ splitmix64(key.step ^ splitmix64(key.element)))};
    }
    std::string state() const { return std::to_string(seed); }
    void restore(std::string_view text) { seed = std::stoull(std::string(text)); }
};
static_assert(poisson::rng_provider<hash_provider>);

}  // namespace

TEST_CASE("dropout: a probability outside [0, 1] throws") {
    CHECK_THROWS_AS(dropout<float>(-0.1f), poisson::invalid_argument);
    CHECK_THROWS_AS(dropout<float>(1.01f), poisson::invalid_argument);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(dropout<double>{nan},
                         "dropout: probability is nan, expected a value in [0, 1]",
                         poisson::invalid_argument);
}

TEST_CASE_TEMPLATE("dropout: p = 0 is exactly the identity in training", T, float, double) {
    dropout<T> layer(T{0});
    const auto x = random_tensor<T>({3, 50}, 1);
    CHECK(layer.forward(x) == x);
    const auto g = random_tensor<T>({3, 50}, 2);
    CHECK(layer.backward(g) == g);
}

TEST_CASE_TEMPLATE("dropout: p = 1 gives zeros and zero gradient, without NaN", T, float,
                   double) {
    dropout<T> layer(T{1});
    tensor<T> x = random_tensor<T>({4, 10}, 3);
    x(0, 0) = std::numeric_limits<T>::infinity();
    CHECK(layer.forward(x) == xt::zeros<T>(x.shape()));
    tensor<T> g = xt::ones<T>(x.shape());
    g(1, 1) = std::numeric_limits<T>::infinity();
    CHECK(layer.backward(g) == xt::zeros<T>(x.shape()));
}

TEST_CASE_TEMPLATE("dropout: evaluation mode is the identity and does not advance the step", T,
                   float, double) {
    dropout<T> layer(T(0.5));
    layer.set_training(false);
    CHECK_FALSE(layer.training());
    const auto x = random_tensor<T>({2, 30}, 4);
    CHECK(layer.forward(x) == x);
    const auto g = random_tensor<T>({2, 30}, 5);
    CHECK(layer.backward(g) == g);
    CHECK(layer.step() == 0);
}

TEST_CASE_TEMPLATE("dropout: keeps a fraction 1 - p, scaled by 1 / (1 - p)", T, float, double) {
    const double p = 0.3;
    const std::size_t n = 200000;
    dropout<T, hash_provider> layer(static_cast<T>(p));
    const tensor<T> x = xt::ones<T>({n});
    const auto& y = layer.forward(x);
    std::size_t kept = 0;
    bool values_ok = true;
    for (const T v : y) {
        kept += (v != T{0});
        values_ok = values_ok && (v == T{0} || v == T{1} / T(1 - p));
    }
    CHECK(values_ok);
    // Binomial(n, 1 - p): a 5-sigma band, false-failure rate about 6e-7 for a random seed.
    const double sigma = std::sqrt(n * p * (1 - p));
    CHECK(std::abs(double(kept) - n * (1 - p)) < 5 * sigma);
}

TEST_CASE("dropout: a counter-based mask is keyed by (step, element), on any thread count") {
    const float p = 0.5f;
    dropout<float, hash_provider> layer(p, hash_provider{42});
    const tensor<float> x = xt::ones<float>({7, 301});
    layer.set_step(9);
    const tensor<float> y = layer.forward(x);
    CHECK(layer.step() == 10);
    // Each element follows its own stream, exactly as the provider hands it out.
    const hash_provider reference{42};
    bool keyed = true;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float u = reference.stream({9, i}).next<float>();
        keyed = keyed && (y.flat(i) == (u < p ? 0.0f : 2.0f));
    }
    CHECK(keyed);

    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    layer.set_step(9);
    const tensor<float> serial = layer.forward(x);
    omp_set_num_threads(threads);
    CHECK(serial == y);
    CHECK(layer.forward(x) != y);  // step 10 draws another mask
}

TEST_CASE("dropout: a sequential provider is drawn in element order") {
    const double p = 0.25;
    dropout<double> layer(p, poisson::std_engine<>(7));
    const tensor<double> x = xt::ones<double>({5, 40});
    const auto& y = layer.forward(x);
    poisson::std_engine<> reference(7);
    auto stream = reference.stream({0, 0});
    bool in_order = true;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double u = stream.next<double>();
        in_order = in_order && (y.flat(i) == (u < p ? 0.0 : 1.0 / (1.0 - p)));
    }
    CHECK(in_order);
}

TEST_CASE("dropout: finite differences agree with backward when the mask is frozen") {
    const auto x = random_tensor<double>({3, 17}, 6);
    SUBCASE("counter-based provider, step reset before every forward") {
        dropout<double, hash_provider> layer(0.4, hash_provider{3});
        poisson::testing::gradient_check_options options;
        options.before_forward = [&] { layer.set_step(5); };
        const auto report = poisson::testing::check_layer_gradients(layer, x, options);
        CAPTURE(report.summary());
        CHECK(report.worst_error() < 1e-6);
    }
    SUBCASE("sequential provider, engine state restored before every forward") {
        dropout<double> layer(0.4, poisson::std_engine<>(11));
        const std::string saved = layer.rng().state();
        poisson::testing::gradient_check_options options;
        options.before_forward = [&] { layer.rng().restore(saved); };
        const auto report = poisson::testing::check_layer_gradients(layer, x, options);
        CAPTURE(report.summary());
        CHECK(report.worst_error() < 1e-6);
    }
}

TEST_CASE("dropout: without freezing, the checker sees the mask change") {
    // Guards the freezing tests above: a fresh mask per forward must be detected.
    dropout<double, hash_provider> layer(0.5, hash_provider{3});
    const auto report =
        poisson::testing::check_layer_gradients(layer, random_tensor<double>({2, 20}, 8));
    CHECK(report.worst_error() > 1e-2);
}
