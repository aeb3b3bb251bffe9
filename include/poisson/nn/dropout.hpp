#pragma once

/// @file
/// @brief Inverted dropout, with its randomness from an RNG provider.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "poisson/errors.hpp"
#include "poisson/io/checkpoint.hpp"
#include "poisson/nn/detail/parallel.hpp"
#include "poisson/nn/detail/shape.hpp"
#include "poisson/nn/layer.hpp"
#include "poisson/random/concepts.hpp"
#include "poisson/random/std_engine.hpp"

namespace poisson::nn {

/// @brief Inverted dropout (Srivastava et al., 2014): in training each element is zeroed
/// with probability `p` and the survivors are scaled by `1 / (1 - p)`, so the expected
/// output equals the input; in evaluation the layer is the identity.
///
/// Element `i` at training step `s` draws one uniform `u` from `rng.stream({s, i})` and is
/// dropped when `u < p`. With a counter-based provider (`Rng::is_counter_based`) the draws
/// run in parallel and depend only on the provider's seed, `s` and `i`; setting the step
/// back (`set_step`) reproduces a mask exactly. Such a provider's `stream` must be safe to
/// call from several threads. Any other provider is drawn in element order on one thread.
///
/// `p = 0` is exactly the identity and `p = 1` gives exact zeros (and zero gradient, even
/// for infinite inputs); neither draws uniforms. Every training forward advances the step
/// by one, evaluation forwards do not.
template <class T, rng_provider Rng = std_engine<>>
class dropout {
public:
    /// @brief Element type of inputs and outputs.
    using value_type = T;
    /// @brief The RNG provider type.
    using rng_type = Rng;

    /// @brief Dropout with drop probability `probability` in [0, 1], drawing from `rng`.
    /// Throws `invalid_argument` for a probability outside [0, 1] or NaN.
    explicit dropout(T probability, Rng rng = Rng{})
        : m_probability(probability), m_rng(std::move(rng)) {
        if (!(probability >= T{0} && probability <= T{1})) {
            throw invalid_argument("dropout: probability is " + std::to_string(probability) +
                                   ", expected a value in [0, 1]");
        }
    }

    /// @brief In training `y = x * mask` with a fresh mask of 0 and `1 / (1 - p)`; in
    /// evaluation `y = x`.
    const tensor<T>& forward(const tensor<T>& x) {
        m_output.resize(x.shape());
        m_last_training = m_training;
        if (!m_training) {
            std::copy_n(x.data(), x.size(), m_output.data());
            return m_output;
        }
        m_keep.resize(x.shape());
        draw_keep(x.size());
        apply(x.data(), m_output.data(), x.size());
        ++m_step;
        return m_output;
    }

    /// @brief `g` times the mask of the last forward (`g` itself after an evaluation
    /// forward). Throws `invalid_argument` if `g` does not have the output's shape.
    const tensor<T>& backward(const tensor<T>& g) {
        detail::require_same_shape(g, m_output, "dropout");
        m_input_grad.resize(g.shape());
        if (m_last_training) {
            apply(g.data(), m_input_grad.data(), g.size());
        } else {
            std::copy_n(g.data(), g.size(), m_input_grad.data());
        }
        return m_input_grad;
    }

    /// @brief Switches between training (random mask) and evaluation (identity).
    void set_training(bool training) noexcept { m_training = training; }
    /// @brief Whether the layer is in training mode (the default).
    bool training() const noexcept { return m_training; }

    /// @brief The drop probability `p`.
    T probability() const noexcept { return m_probability; }

    /// @brief Stores the step counter and the RNG position under `prefix`, so a resumed run
    /// draws the masks an uninterrupted run would have drawn.
    void save_state(io::checkpoint& out, std::string_view prefix) const {
        out.put_u64(std::string(prefix) + "step", m_step);
        out.put_text(std::string(prefix) + "rng", m_rng.state());
    }

    /// @brief Restores what `save_state` stored.
    void load_state(const io::checkpoint& in, std::string_view prefix) {
        m_step = in.get_u64(std::string(prefix) + "step");
        m_rng.restore(in.get_text(std::string(prefix) + "rng"));
    }

    /// @brief The step the next training forward will use in its stream keys.
    std::uint64_t step() const noexcept { return m_step; }
    /// @brief Sets the step of the next training forward (to replay or resume a mask).
    void set_step(std::uint64_t step) noexcept { m_step = step; }

    /// @brief The RNG provider.
    Rng& rng() noexcept { return m_rng; }
    /// @brief The RNG provider.
    const Rng& rng() const noexcept { return m_rng; }

private:
    // Fills m_keep with 1 for kept elements and 0 for dropped ones.
    void draw_keep(std::size_t n) {
        std::uint8_t* keep = m_keep.data();
        if (m_probability == T{0} || m_probability == T{1}) {
            std::fill_n(keep, n, std::uint8_t{m_probability == T{0}});
            return;
        }
        const T p = m_probability;
        if constexpr (Rng::is_counter_based) {
            const std::uint64_t step = m_step;
#pragma omp parallel for schedule(static) if (n >= detail::parallel_threshold)
            for (std::size_t i = 0; i < n; ++i) {
                auto stream = m_rng.stream(stream_key{step, i});
                keep[i] = stream.template next<T>() >= p;
            }
        } else {
            auto stream = m_rng.stream(stream_key{m_step, 0});
            for (std::size_t i = 0; i < n; ++i) {
                keep[i] = stream.template next<T>() >= p;
            }
        }
    }

    // out = in * scale where kept, exactly 0 where dropped (no 0 * inf = NaN).
    void apply(const T* in, T* out, std::size_t n) const {
        const std::uint8_t* keep = m_keep.data();
        const T scale = m_probability < T{1} ? T{1} / (T{1} - m_probability) : T{0};
#pragma omp parallel for simd schedule(static) if (n >= detail::parallel_threshold)
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = keep[i] ? in[i] * scale : T{0};
        }
    }

    T m_probability;
    Rng m_rng;
    std::uint64_t m_step = 0;
    bool m_training = true;
    bool m_last_training = true;
    tensor<std::uint8_t> m_keep;  // 1 = kept, from the last training forward
    tensor<T> m_output;
    tensor<T> m_input_grad;
};

}  // namespace poisson::nn
