#pragma once

/// @file
/// @brief The layer contract shared by every layer of the stack, noise layers included.

#include <concepts>
#include <cstddef>
#include <string_view>

#include <xtensor/xarray.hpp>

namespace poisson::io {
class checkpoint;
}

/// @brief The layer stack the noise layers sit in: layers, the loss, `sequential`, the
/// optimizer, initialisers and training checkpoints.
namespace poisson::nn {

/// @brief The tensor every layer consumes and produces: dense, row-major, any rank.
///
/// Images are laid out NHWC (batch, height, width, channels): a convolution is then one
/// matrix product whose output rows are already pixels of the next layer.
template <class T>
using tensor = xt::xarray<T, xt::layout_type::row_major>;

/// @brief What a layer must provide.
///
/// `forward(x)` computes the output for a batch and keeps whatever backward needs;
/// `backward(g)` takes the gradient of the loss with respect to that output and returns the
/// gradient with respect to the input, overwriting (not accumulating) the gradients of the
/// layer's parameters. Both return a reference to a buffer the layer owns, valid until the
/// layer's next call.
template <class L>
concept layer = requires(L& l, const tensor<typename L::value_type>& x) {
    typename L::value_type;
    { l.forward(x) } -> std::convertible_to<const tensor<typename L::value_type>&>;
    { l.backward(x) } -> std::convertible_to<const tensor<typename L::value_type>&>;
};

/// @brief Stand-in for the visitor an optimizer passes to `for_each_parameter`: the
/// `has_parameters` concept checks that a layer accepts it and needs nothing more.
template <class T>
struct parameter_visitor_archetype {
    /// @brief Receives one parameter: its name, its value and its gradient; does nothing.
    void operator()(std::string_view /*name*/, tensor<T>& /*value*/,
                    tensor<T>& /*gradient*/) const {}
};

/// @brief A layer that behaves differently in training and in evaluation (dropout, noise).
template <class L>
concept has_mode = requires(L& l) { l.set_training(true); };

/// @brief A layer with trainable parameters: it calls `visit(name, value, gradient)` once
/// for each of them, always in the same order.
template <class L>
concept has_parameters = requires(L& l) {
    l.for_each_parameter(parameter_visitor_archetype<typename L::value_type>{});
};

/// @brief A layer with state other than parameters (a step counter, a random stream) that
/// a checkpoint must hold for a resumed run to continue exactly.
template <class L>
concept has_state = requires(const L& cl, L& l, io::checkpoint& out, const io::checkpoint& in,
                             std::string_view prefix) {
    cl.save_state(out, prefix);
    l.load_state(in, prefix);
};

/// @brief An element-wise layer that can take its input in pieces from the layer in front
/// (see `sequential`): `start_forward(shape)`, then `forward_part(in, first, count)` for
/// every piece, after which `output()` is what `forward` would have returned. Callers hand
/// the pieces in order, each a whole number of images (of the batch axis's entries).
template <class L>
concept piecewise_input =
    requires(L& l, const L& cl, const typename L::value_type* in, std::size_t n,
             const typename tensor<typename L::value_type>::shape_type& shape) {
        l.start_forward(shape);
        l.forward_part(in, n, n);
        { cl.output() } -> std::convertible_to<const tensor<typename L::value_type>&>;
    };

/// @brief An element-wise layer whose gradient is the output gradient where `passes(y)` for
/// its output `y` and 0 elsewhere, so that a layer behind it that sees those outputs can
/// write its input gradient into `input_gradient_buffer()` (see `sequential`).
template <class L>
concept output_masked = requires(L& l, const L& cl, typename L::value_type y) {
    { L::passes(y) } -> std::convertible_to<bool>;
    { l.input_gradient_buffer() } -> std::same_as<tensor<typename L::value_type>&>;
    {
        cl.output_shape()
    } -> std::convertible_to<const typename tensor<typename L::value_type>::shape_type&>;
};

}  // namespace poisson::nn
