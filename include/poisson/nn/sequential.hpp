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

/// @brief A layer that can take its input whole images at a time (max_pool2d):
/// `start_forward(shape)`, then `forward_images(data, first, last, f)` for each piece, where
/// `data` points at image `first` and `f` is applied to each value read.
template <class L>
concept image_pieces =
    requires(L& l, const L& cl, const typename L::value_type* x, std::size_t n,
             const typename tensor<typename L::value_type>::shape_type& shape) {
        l.start_forward(shape);
        l.forward_images(x, n, n, [](typename L::value_type v) { return v; });
        { cl.output() } -> std::convertible_to<const tensor<typename L::value_type>&>;
    };

/// @brief An element-wise layer whose output a layer behind can compute itself, value by
/// value, leaving it unstored (relu).
template <class L>
concept unkept_output = requires(L& l, typename L::value_type x,
                                 const typename tensor<typename L::value_type>::shape_type& s) {
    l.start_unkept_forward(s);
    { L::value(x) } -> std::same_as<typename L::value_type>;
};

/// @brief The element-wise layer `Act` followed by `Pool` as one piecewise layer: `Pool`
/// pools each piece through `Act::value` while it is in cache, and `Act` records only the
/// shape (its backward goes through `Pool::backward_into`). Pieces must be whole images,
/// in order, as `conv2d::forward_into` hands them.
template <unkept_output Act, image_pieces Pool>
class activation_then_pool {
public:
    using value_type = typename Act::value_type;

    activation_then_pool(Act& act, Pool& pool) : m_act(act), m_pool(pool) {}

    void start_forward(const typename tensor<value_type>::shape_type& shape) {
        m_pool.start_forward(shape);  // checks the rank first
        m_act.start_unkept_forward(shape);
        m_image = shape[1] * shape[2] * shape[3];
    }

    void forward_part(const value_type* in, std::size_t first, std::size_t count) {
        m_pool.forward_images(in, first / m_image, (first + count) / m_image,
                              [](value_type v) { return Act::value(v); });
    }

    const tensor<value_type>& output() const { return m_pool.output(); }

private:
    Act& m_act;
    Pool& m_pool;
    std::size_t m_image = 1;
};

/// @brief How many layers of `Tuple`, from position `I`, one forward pass runs: 3 for a
/// conv2d, relu and max_pool2d; 2 for a conv2d and relu; else 1.
template <class Tuple, std::size_t I>
constexpr std::size_t forward_stage_length() {
    constexpr std::size_t n = std::tuple_size_v<Tuple>;
    if constexpr (I + 1 >= n) {
        return 1;
    } else {
        using A = std::tuple_element_t<I, Tuple>;
        using B = std::tuple_element_t<I + 1, Tuple>;
        if constexpr (!fuses_forward<A, B>) {
            return 1;
        } else if constexpr (I + 2 < n) {
            using C = std::tuple_element_t<I + 2, Tuple>;
            if constexpr (image_pieces<C> && unkept_output<B> && fuses_backward<B, C> &&
                          std::same_as<typename B::value_type, typename C::value_type>) {
                return fuses_forward<A, activation_then_pool<B, C>> ? 3 : 2;
            } else {
                return 2;
            }
        } else {
            return 2;
        }
    }
}

/// @brief Whether `A` can take its output gradient chunk by chunk from a source that `B`
/// and `C` behind it make (`A::backward_from` and `C::backward_images` through `B`):
/// conv2d from max_pool2d through relu.
template <class A, class B, class C>
concept fuses_backward_from = fuses_backward<B, C> && requires(
    A& a, const C& c, const tensor<typename C::value_type>& g, typename C::value_type* rows,
    std::size_t n) {
    c.template backward_images<B>(g, rows, n, n);
    a.backward_from(c.input_shape(), [](std::size_t, std::size_t, typename A::value_type*) {});
};

/// @brief How many layers of `Tuple`, ending at position `I`, one backward pass runs: 3
/// for a conv2d, relu, max_pool2d; 2 for a max_pool2d through the relu in front; else 1.
template <class Tuple, std::size_t I>
constexpr std::size_t backward_stage_length() {
    if constexpr (I == 0) {
        return 1;
    } else {
        using B = std::tuple_element_t<I - 1, Tuple>;
        using C = std::tuple_element_t<I, Tuple>;
        if constexpr (!fuses_backward<B, C>) {
            return 1;
        } else if constexpr (I >= 2) {
            return fuses_backward_from<std::tuple_element_t<I - 2, Tuple>, B, C> ? 3 : 2;
        } else {
            return 2;
        }
    }
}

}  // namespace detail

/// @brief Layers applied in order: `forward` runs them first to last, `backward` last to
/// first, each on the previous one's output buffer (nothing is copied between layers).
///
/// The stack is itself a layer, so stacks nest. Parameter names are prefixed with the
/// layer's position: the weight of the third layer is "2.weight". Layers are stored by
/// value in a `std::tuple`; `get<I>()` reaches them.
///
/// Adjacent layers that can share a pass over the data do, with results bit for bit those
/// of the separate calls, so that 10 MB activations are not written and read back:
/// - forward: a `conv2d` hands its output to a `relu` behind it chunk by chunk, while it
///   is in cache (the conv2d's own output is then not kept), and a `max_pool2d` right
///   behind that relu pools each chunk through it (the relu's output is not stored either:
///   backward needs only the pooled maxima);
/// - backward: a `max_pool2d` writes the gradient through the `relu` in front of it (that
///   relu's own pass is skipped), chunk by chunk as a `conv2d` in front of them needs it.
///
/// Every layer still exists and can be called on its own, but a layer whose output was not
/// kept cannot run its own backward after such a forward (relu throws). `forward_stage`
/// and `backward_stage` run one such pass, for profiling.
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

    /// @brief How many layers the forward pass starting at layer `I` runs (see above).
    template <std::size_t I>
    static constexpr std::size_t forward_stage_length =
        detail::forward_stage_length<std::tuple<Layers...>, I>();

    /// @brief How many layers the backward pass ending at layer `I` runs (see above).
    template <std::size_t I>
    static constexpr std::size_t backward_stage_length =
        detail::backward_stage_length<std::tuple<Layers...>, I>();

    /// @brief Runs the forward pass starting at layer `I` on `x`, as `forward` does, and
    /// returns the output of its last layer, `I + forward_stage_length<I> - 1`.
    template <std::size_t I>
    const tensor<value_type>& forward_stage(const tensor<value_type>& x) {
        constexpr std::size_t length = forward_stage_length<I>;
        if constexpr (length == 3) {
            detail::activation_then_pool next(std::get<I + 1>(m_layers),
                                              std::get<I + 2>(m_layers));
            return std::get<I>(m_layers).forward_into(x, next);
        } else if constexpr (length == 2) {
            return std::get<I>(m_layers).forward_into(x, std::get<I + 1>(m_layers));
        } else {
            return std::get<I>(m_layers).forward(x);
        }
    }

    /// @brief Runs the backward pass ending at layer `I` on `g`, as `backward` does, and
    /// returns the input gradient of its first layer, `I - backward_stage_length<I> + 1`.
    template <std::size_t I>
    const tensor<value_type>& backward_stage(const tensor<value_type>& g) {
        if constexpr (backward_stage_length<I> == 3) {
            using act_type = std::tuple_element_t<I - 1, std::tuple<Layers...>>;
            auto& pool = std::get<I>(m_layers);
            pool.check_backward(g, std::get<I - 1>(m_layers).output_shape());
            return std::get<I - 2>(m_layers).backward_from(
                pool.input_shape(), [&](std::size_t first, std::size_t last, value_type* rows) {
                    pool.template backward_images<act_type>(g, rows, first, last);
                });
        } else if constexpr (backward_stage_length<I> == 2) {
            return std::get<I>(m_layers).backward_into(g, std::get<I - 1>(m_layers));
        } else {
            return std::get<I>(m_layers).backward(g);
        }
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
    const tensor<value_type>& forward_from(const tensor<value_type>& x) {
        constexpr std::size_t next = I + forward_stage_length<I>;
        const tensor<value_type>& y = forward_stage<I>(x);
        if constexpr (next < size) {
            return forward_from<next>(y);
        } else {
            return y;
        }
    }

    template <std::size_t I>
    const tensor<value_type>& backward_from(const tensor<value_type>& g) {
        constexpr std::size_t length = backward_stage_length<I>;
        const tensor<value_type>& dx = backward_stage<I>(g);
        if constexpr (I >= length) {
            return backward_from<I - length>(dx);
        } else {
            return dx;
        }
    }

    std::tuple<Layers...> m_layers;
};

/// @brief Deduces the layer types: `sequential model{conv2d<float>(...), relu<float>{}}`.
template <class... Layers>
sequential(Layers...) -> sequential<Layers...>;

}  // namespace poisson::nn
