#pragma once

// The four networks of the report (REFERENCE.md, section 3), built from the library's layers.
//
//   conv 5x5x1->32 same, ReLU, [noise], pool 2x2
//   conv 5x5x32->64 same, ReLU, [noise], pool 2x2
//   flatten, dense 3136->1024, ReLU, dropout 0.5, dense 1024->10
//
// Baseline has no noise; P_1 puts Gumbel noise after the first ReLU; P_2 after both; P_STE
// puts identity straight-through noise after both. Each model is its own type: the layer
// stack is composed at compile time.

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/estimator/straight_through_identity.hpp"
#include "poisson/k_rule/batch_max.hpp"
#include "poisson/nn/conv2d.hpp"
#include "poisson/nn/dense.hpp"
#include "poisson/nn/dropout.hpp"
#include "poisson/nn/flatten.hpp"
#include "poisson/nn/init.hpp"
#include "poisson/nn/max_pool2d.hpp"
#include "poisson/nn/relu.hpp"
#include "poisson/nn/sequential.hpp"
#include "poisson/noise_layer.hpp"
#include "poisson/random/philox.hpp"
#include "poisson/temperature/exponential.hpp"

namespace paper {

using real = float;
namespace nn = poisson::nn;

enum class model_kind { baseline, p1, p2, p_ste };

inline constexpr model_kind all_models[] = {model_kind::baseline, model_kind::p1,
                                            model_kind::p2, model_kind::p_ste};

inline std::string_view model_name(model_kind kind) {
    switch (kind) {
        case model_kind::baseline: return "baseline";
        case model_kind::p1: return "p1";
        case model_kind::p2: return "p2";
        case model_kind::p_ste: return "p_ste";
    }
    return "?";
}

/// Test accuracy the report gives for each model (its Table 1), in percent.
inline double report_accuracy(model_kind kind) {
    switch (kind) {
        case model_kind::baseline: return 98.8;
        case model_kind::p1: return 98.8;
        case model_kind::p2: return 98.0;
        case model_kind::p_ste: return 98.2;
    }
    return 0;
}

/// How the weights start: the report's tutorial (truncated normal, sigma 0.1, biases 0.1),
/// or He / Glorot with zero biases.
enum class init_kind { tutorial, he, glorot };

/// Settings of the noise layers.
struct noise_settings {
    double tau0 = 1.0;         // temperature at step 0
    double tau_min = 1.0;      // floor of the annealing
    double anneal_rate = 0.0;  // r in tau = max(tau_min, tau0 exp(-r t))
    std::uint64_t anneal_every = 1000;
    double k_sigmas = 4.0;     // c in k = ceil(m + c sqrt(m))
};

using gumbel_noise = poisson::noise_layer<poisson::straight_through_gumbel, poisson::batch_max,
                                          poisson::exponential_annealing, poisson::philox, real>;
using identity_noise =
    poisson::noise_layer<poisson::straight_through_identity, poisson::batch_max,
                         poisson::exponential_annealing, poisson::philox, real>;

using conv = nn::conv2d<real>;
using relu = nn::relu<real>;
using pool = nn::max_pool2d<real>;
using head_flatten = nn::flatten<real>;
using dense = nn::dense<real>;
using dropout = nn::dropout<real, poisson::philox>;

using baseline_net =
    nn::sequential<conv, relu, pool, conv, relu, pool, head_flatten, dense, relu, dropout, dense>;
using p1_net = nn::sequential<conv, relu, gumbel_noise, pool, conv, relu, pool, head_flatten,
                              dense, relu, dropout, dense>;
using p2_net = nn::sequential<conv, relu, gumbel_noise, pool, conv, relu, gumbel_noise, pool,
                              head_flatten, dense, relu, dropout, dense>;
using p_ste_net = nn::sequential<conv, relu, identity_noise, pool, conv, relu, identity_noise,
                                 pool, head_flatten, dense, relu, dropout, dense>;

namespace detail {

// Random streams: one Philox stream id per random layer, all from the run's seed.
enum stream_id : std::uint32_t { noise1 = 1, noise2 = 2, dropout_stream = 3 };

inline conv first_conv() {
    nn::conv2d_options options;
    options.compute_input_gradient = false;  // nothing upstream needs it
    return conv::same(1, 32, 5, 5, options);
}

inline conv second_conv() { return conv::same(32, 64, 5, 5); }

template <class Noise>
Noise make_noise(std::uint64_t seed, std::uint32_t stream, const char* name,
                 const noise_settings& s) {
    poisson::noise_options options;
    options.name = name;
    return Noise(poisson::philox(seed, stream), options, poisson::batch_max(s.k_sigmas),
                 poisson::exponential_annealing(s.tau0, s.tau_min, s.anneal_rate,
                                                s.anneal_every));
}

inline dropout make_dropout(std::uint64_t seed) {
    return dropout(real(0.5), poisson::philox(seed, dropout_stream));
}

inline void initialise_parameters(auto& net, init_kind init, std::uint64_t seed) {
    std::mt19937_64 engine(seed);
    net.for_each_parameter([&](std::string_view name, nn::tensor<real>& value,
                               nn::tensor<real>&) {
        const bool bias = name.ends_with("bias");
        if (bias) {
            nn::init::constant(value, init == init_kind::tutorial ? 0.1 : 0.0);
        } else if (init == init_kind::tutorial) {
            nn::init::truncated_normal(value, engine, 0.1);
        } else if (init == init_kind::he) {
            nn::init::he_normal(value, engine);
        } else {
            nn::init::glorot_uniform(value, engine);
        }
    });
}

}  // namespace detail

/// Builds the network of `Net`'s type, initialised from `seed`.
template <class Net>
Net make_net(std::uint64_t seed, init_kind init, const noise_settings& noise) {
    using namespace detail;
    auto net = [&] {
        if constexpr (std::same_as<Net, baseline_net>) {
            return Net(first_conv(), relu(), pool(), second_conv(), relu(), pool(),
                       head_flatten(), dense(3136, 1024), relu(), make_dropout(seed),
                       dense(1024, 10));
        } else if constexpr (std::same_as<Net, p1_net>) {
            return Net(first_conv(), relu(), make_noise<gumbel_noise>(seed, noise1, "conv1", noise),
                       pool(), second_conv(), relu(), pool(), head_flatten(), dense(3136, 1024),
                       relu(), make_dropout(seed), dense(1024, 10));
        } else {
            using noise_type = std::conditional_t<std::same_as<Net, p2_net>, gumbel_noise,
                                                  identity_noise>;
            return Net(first_conv(), relu(),
                       make_noise<noise_type>(seed, noise1, "conv1", noise), pool(),
                       second_conv(), relu(),
                       make_noise<noise_type>(seed, noise2, "conv2", noise), pool(),
                       head_flatten(), dense(3136, 1024), relu(), make_dropout(seed),
                       dense(1024, 10));
        }
    }();
    initialise_parameters(net, init, seed);
    return net;
}

/// Calls `f(net)` with a freshly built network of the given kind.
template <class F>
decltype(auto) with_model(model_kind kind, std::uint64_t seed, init_kind init,
                          const noise_settings& noise, F&& f) {
    switch (kind) {
        case model_kind::baseline: {
            auto net = make_net<baseline_net>(seed, init, noise);
            return f(net);
        }
        case model_kind::p1: {
            auto net = make_net<p1_net>(seed, init, noise);
            return f(net);
        }
        case model_kind::p2: {
            auto net = make_net<p2_net>(seed, init, noise);
            return f(net);
        }
        case model_kind::p_ste: break;
    }
    auto net = make_net<p_ste_net>(seed, init, noise);
    return f(net);
}

}  // namespace paper
