#pragma once

/// @file
/// @brief A stack of layers composed at compile time.

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "poisson/nn/layer.hpp"

namespace poisson::nn {

namespace detail {

/// @brief Fails with a readable message for a type that is not a layer; used by
/// `sequential` before it looks at any member of its layers.
template <class L>
constexpr bool check_is_layer() {
    static_assert(layer<L>,
                  "sequential: every element must satisfy poisson::nn::layer: a value_type, "
                  "and forward(x) and backward(g) returning const tensor<value_type>&");
    return layer<L>;
}

/// @brief Whether `A`'s output can go straight into the element-wise layer `B` behind it,
/// chunk by chunk (`A::forward_into`): conv2d into relu.
template <class A, class B>
concept fuses_forward =
    requires(A& a, B& b, const tensor<typename A::value_type>& x) { a.forward_into(x, b); };

/// @brief Whether `B` can write the input gradient of the element-wise layer `A` in front
/// of it, masked as `A` would (`B::backward_into`): max_pool2d through relu.
template <class A, class B>
concept fuses_backward =
    requires(A& a, B& b, const tensor<typename B::value_type>& g) { b.backward_into(g, a); };

}  // namespace detail

/// @brief Layers applied in order: `forward` runs them first to last, `backward` last to
/// first, each on the previous one's output buffer (nothing is copied between layers).
///
/// The stack is itself a layer, so stacks nest. Parameter names are prefixed with the
/// layer's position: the weight of the third layer is "2.weight". Layers are stored by
/// value in a `std::tuple`; `get<I>()` reaches them.
///
/// Adjacent layers that can share a pass over the data do, with results bit for bit those
/// of the separate calls: a `conv2d` hands its output to a `relu` behind it chunk by chunk,
/// while it is in cache (the conv2d's own output is then not kept), and a `max_pool2d`
/// writes the gradient through the `relu` in front of it (that relu's backward pass is
/// skipped). Every layer still exists, keeps its state and can be called on its own.
template <class... Layers>
class sequential {
    static_assert(sizeof...(Layers) > 0, "sequential: needs at least one layer");
    static_assert((detail::check_is_layer<Layers>() && ...),
                  "sequential: a template argument is not a layer (see the message above)");

public:
    /// @brief Element type shared by every layer.
    using value_type = typename std::tuple_element_t<0, std::tuple<Layers...>>::value_type;
    static_assert((std::same_as<typename Layers::value_type, value_type> && ...),
                  "sequential: every layer must have the same value_type");

    /// @brief Number of layers.
    static constexpr std::size_t size = sizeof...(Layers);

    /// @brief Default-constructs every layer.
    sequential() = default;
    /// @brief Takes the layers, in order.
    explicit sequential(Layers... layers) : m_layers(std::move(layers)...) {}

    /// @brief The output of the last layer for input `x`.
    const tensor<value_type>& forward(const tensor<value_type>& x) {
        return forward_from<0>(x);
    }

    /// @brief The gradient with respect to the input for output gradient `g`; every layer's
    /// parameter gradients are overwritten.
    const tensor<value_type>& backward(const tensor<value_type>& g) {
        return backward_from<size - 1>(g);
    }

    /// @brief Forwards the mode to every layer that has one (dropout, noise layers).
    void set_training(bool training) {
        for_each_layer([&](std::size_t, auto& l) {
            if constexpr (has_mode<std::remove_cvref_t<decltype(l)>>) {
                l.set_training(training);
            }
        });
    }

    /// @brief Calls `visit(name, value, gradient)` for every parameter of every layer, in
    /// layer order, with names prefixed by the position: "0.weight", "0.bias", "3.weight".
    template <class Visit>
    void for_each_parameter(Visit&& visit) {
        for_each_layer([&](std::size_t index, auto& l) {
            if constexpr (has_parameters<std::remove_cvref_t<decltype(l)>>) {
                const std::string prefix = std::to_string(index) + ".";
                l.for_each_parameter([&](std::string_view name, auto& value, auto& grad) {
                    visit(std::string_view(prefix + std::string(name)), value, grad);
                });
            }
        });
    }

    /// @brief Calls `f(index, layer)` for each layer, in order.
    template <class F>
    void for_each_layer(F&& f) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(I, std::get<I>(m_layers)), ...);
        }(std::index_sequence_for<Layers...>{});
    }

    /// @brief Calls `f(index, layer)` for each layer, in order.
    template <class F>
    void for_each_layer(F&& f) const {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(I, std::get<I>(m_layers)), ...);
        }(std::index_sequence_for<Layers...>{});
    }

    /// @brief The layer at position `I`.
    template <std::size_t I>
    auto& get() noexcept {
        return std::get<I>(m_layers);
    }

    /// @brief The layer at position `I`.
    template <std::size_t I>
    const auto& get() const noexcept {
        return std::get<I>(m_layers);
    }

private:
    template <std::size_t I>
    using layer_at = std::tuple_element_t<I, std::tuple<Layers...>>;

    // Layer I on x, or layers I and I + 1 in one pass; then the rest.
    template <std::size_t I>
    const tensor<value_type>& forward_from(const tensor<value_type>& x) {
        constexpr bool fused = [] {
            if constexpr (I + 1 < size) {
                return detail::fuses_forward<layer_at<I>, layer_at<I + 1>>;
            } else {
                return false;
            }
        }();
        if constexpr (fused) {
            return forward_rest<I + 2>(
                std::get<I>(m_layers).forward_into(x, std::get<I + 1>(m_layers)));
        } else {
            return forward_rest<I + 1>(std::get<I>(m_layers).forward(x));
        }
    }

    template <std::size_t I>
    const tensor<value_type>& forward_rest(const tensor<value_type>& y) {
        if constexpr (I < size) {
            return forward_from<I>(y);
        } else {
            return y;
        }
    }

    // Layer I on g, or layers I and I - 1 in one pass; then the rest.
    template <std::size_t I>
    const tensor<value_type>& backward_from(const tensor<value_type>& g) {
        constexpr bool fused = [] {
            if constexpr (I > 0) {
                return detail::fuses_backward<layer_at<I - 1>, layer_at<I>>;
            } else {
                return false;
            }
        }();
        if constexpr (fused) {
            const auto& dx = std::get<I>(m_layers).backward_into(g, std::get<I - 1>(m_layers));
            if constexpr (I > 1) {
                return backward_from<I - 2>(dx);
            } else {
                return dx;
            }
        } else {
            const auto& dx = std::get<I>(m_layers).backward(g);
            if constexpr (I > 0) {
                return backward_from<I - 1>(dx);
            } else {
                return dx;
            }
        }
    }

    std::tuple<Layers...> m_layers;
};

/// @brief Deduces the layer types: `sequential model{conv2d<float>(...), relu<float>{}}`.
template <class... Layers>
sequential(Layers...) -> sequential<Layers...>;

}  // namespace poisson::nn
