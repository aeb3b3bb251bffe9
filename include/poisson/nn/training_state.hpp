#pragma once

/// @file
/// @brief Everything a training run needs to continue exactly: parameters, optimizer state
/// and the state of random layers, in one checkpoint.

#include <string>
#include <string_view>
#include <type_traits>

#include "poisson/io/checkpoint.hpp"
#include "poisson/nn/layer.hpp"

namespace poisson::nn {

namespace detail {

/// Calls `f(layer, prefix)` for every layer with state in `net`, descending into nested
/// containers, with prefixes `state/<index>/` (`state/<outer>/<inner>/` when nested).
template <class Net, class F>
void for_each_stateful_layer(Net& net, const std::string& prefix, F&& f) {
    net.for_each_layer([&](std::size_t index, auto& layer) {
        using layer_type = std::remove_cvref_t<decltype(layer)>;
        const std::string here = prefix + std::to_string(index) + "/";
        if constexpr (has_state<layer_type>) {
            f(layer, here);
        } else if constexpr (requires { layer.for_each_layer([](std::size_t, auto&) {}); }) {
            for_each_stateful_layer(layer, here, f);
        }
    });
}

}  // namespace detail

/// @brief Stores `net`'s parameters (`param/<name>`), `optimizer`'s per-parameter state
/// (`velocity/<name>`) and the state of every layer that has one (`state/<index>/...`: step
/// counters and random-stream positions of noise and dropout layers, nested containers
/// included).
///
/// A run restored with `load_training_state` and continued draws the same batches of noise
/// and takes the same steps as a run that was never interrupted, bit for bit.
///
/// Layer state is looked up among the direct layers of `net` only. A `sequential` has no
/// state of its own, so a noise or dropout layer inside a nested `sequential` is not saved
/// (its parameters are): keep random layers at the top level, or save their state yourself.
template <class Net, class Optimizer>
void save_training_state(io::checkpoint& out, Net& net, Optimizer& optimizer) {
    net.for_each_parameter([&](std::string_view name, auto& value, auto&) {
        out.put("param/" + std::string(name), value);
    });
    optimizer.init_state(net);  // zeros before the first step, so every record exists
    optimizer.for_each_state([&](std::string_view name, auto& state) {
        out.put("velocity/" + std::string(name), state);
    });
    detail::for_each_stateful_layer(net, "state/", [&](auto& layer, const std::string& prefix) {
        layer.save_state(out, prefix);
    });
}

/// @brief Restores what `save_training_state` stored into a network of the same type.
/// @throws io_error for a missing record, invalid_argument for a record whose shape differs
/// from the network's (a checkpoint of another model).
template <class Net, class Optimizer>
void load_training_state(const io::checkpoint& in, Net& net, Optimizer& optimizer) {
    net.for_each_parameter([&](std::string_view name, auto& value, auto&) {
        in.get_into("param/" + std::string(name), value);
    });
    optimizer.init_state(net);
    optimizer.for_each_state([&](std::string_view name, auto& state) {
        in.get_into("velocity/" + std::string(name), state);
    });
    detail::for_each_stateful_layer(net, "state/", [&](auto& layer, const std::string& prefix) {
        layer.load_state(in, prefix);
    });
}

}  // namespace poisson::nn
