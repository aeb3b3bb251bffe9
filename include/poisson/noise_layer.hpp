#pragma once

/// @file
/// @brief The Poisson noise layer: activations in, Poisson samples out.

#include <algorithm>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "poisson/detail/format.hpp"
#include "poisson/errors.hpp"
#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/io/checkpoint.hpp"
#include "poisson/k_rule/batch_max.hpp"
#include "poisson/k_rule/concepts.hpp"
#include "poisson/math/poisson_pmf.hpp"
#include "poisson/random/concepts.hpp"
#include "poisson/random/lane_streams.hpp"
#include "poisson/random/philox.hpp"
#include "poisson/random/philox_lanes.hpp"
#include "poisson/temperature/concepts.hpp"
#include "poisson/temperature/constant.hpp"

namespace poisson {

/// @brief Settings of a noise layer other than its policies.
struct noise_options {
    /// Names the layer in error messages and checkpoints.
    std::string name = "noise";
    /// Largest `k` any k rule may ask for. A batch whose largest rate needs more is refused
    /// with an error naming the rate, rather than allocating `k + 1` categories blindly.
    std::size_t max_k = 4096;
    /// In evaluation mode the layer returns the rates themselves, the expectation of the
    /// noise (as dropout does); set this to sample in evaluation too.
    bool sample_in_eval = false;
};

/// @brief What the last sampling forward pass looked like, for monitoring.
struct noise_diagnostics {
    std::uint64_t step = 0;         ///< training step of the pass
    std::size_t elements = 0;       ///< elements in the batch
    std::size_t k = 0;              ///< largest count kept (0 for untruncated estimators)
    double temperature = 0;         ///< temperature used
    double max_rate = 0;            ///< largest rate in the batch
    double truncated_mass = 0;      ///< `P(X > k; max_rate)`, the mass the truncation drops
    double top_category_share = 0;  ///< share of samples equal to `k`
    double zero_rate_share = 0;     ///< share of rates that are exactly 0
    double mean_relaxation_gap = 0; ///< mean `|count - relaxed|` over elements of rate > 0
};

/// @brief Uses its input as the rates of Poisson distributions and propagates a sample.
///
/// In training mode `forward(rates)` draws one sample per element and keeps one derivative per
/// element for `backward` (never the `k + 1` categories); every training forward pass
/// advances the step counter that keys the random streams and the temperature schedule. In
/// evaluation mode it returns the rates (their expectation) unless
/// `noise_options::sample_in_eval` is set.
///
/// @tparam Estimator   how a sample and its derivative are made (`gradient_estimator`)
/// @tparam KRule       how many categories a truncating estimator keeps (`k_rule`)
/// @tparam Temperature the softmax temperature per step (`temperature_schedule`)
/// @tparam Rng         where the uniforms come from (`rng_provider`); a counter-based one
///                     lets the layer use every OpenMP thread with identical results, and
///                     lets an estimator with a bulk path (`bulk_gradient_estimator`, as the
///                     Gumbel ones have) sample a SIMD register's worth of elements at once
/// @tparam T           `float` or `double`
template <gradient_estimator Estimator = straight_through_gumbel, k_rule KRule = batch_max,
          temperature_schedule Temperature = constant_temperature, rng_provider Rng = philox,
          std::floating_point T = float>
class noise_layer {
public:
    using value_type = T;  ///< element type of rates, samples and gradients
    /// @brief The tensor `forward` and `backward` return (the layer owns it).
    using tensor_type = xt::xarray<T, xt::layout_type::row_major>;
    using estimator_type = Estimator;      ///< the gradient-estimator policy
    using k_rule_type = KRule;             ///< the k-rule policy
    using temperature_type = Temperature;  ///< the temperature-schedule policy
    using rng_type = Rng;                  ///< the RNG-provider policy

    /// @brief A layer drawing from `rng`, with its settings and policies. Policies that have
    /// no parameters are default-constructed; name the layer in `options` so that errors and
    /// checkpoints say which one.
    explicit noise_layer(Rng rng = Rng{}, noise_options options = {}, KRule k_rule = KRule{},
                         Temperature temperature = Temperature{}, Estimator estimator = {})
        : m_rng(std::move(rng))
        , m_options(std::move(options))
        , m_k_rule(std::move(k_rule))
        , m_temperature(std::move(temperature))
        , m_estimator(std::move(estimator)) {}

    /// @brief Samples the noisy tensor (training) or passes the rates through (evaluation).
    /// @param rates any xtensor expression of any shape; every element finite and `>= 0`.
    /// @throws invalid_argument naming the layer, the index and the value of a negative, NaN or
    /// infinite rate, a rate that needs `k > max_k`, or a temperature that is not positive.
    template <class E>
    const tensor_type& forward(const xt::xexpression<E>& rates) {
        m_output = rates.derived_cast();
        m_has_forward = true;
        m_sampled = m_training || m_options.sample_in_eval;
        if (m_sampled) {
            sample_in_place();
        }
        return m_output;
    }

    /// @brief Gradient with respect to the rates: `grad * derivative`, elementwise, where the
    /// derivative is the estimator's for a sampling pass and 1 for a pass-through.
    /// @throws invalid_argument if there was no forward pass or the shape differs from it.
    template <class E>
    const tensor_type& backward(const xt::xexpression<E>& gradient) {
        const auto& g = gradient.derived_cast();
        if (!m_has_forward) {
            throw invalid_argument(where() + "backward called before forward");
        }
        if (!std::equal(g.shape().begin(), g.shape().end(), m_output.shape().begin(),
                        m_output.shape().end())) {
            throw invalid_argument(where() + "gradient shape " + detail::shape_to_text(g.shape()) +
                                   " differs from the output shape " +
                                   detail::shape_to_text(m_output.shape()));
        }
        if constexpr (std::is_same_v<E, tensor_type>) {
            if (m_sampled && !Estimator::unit_derivative) {
                // One pass over the gradient instead of a copy and then a product.
                m_gradient.resize(g.shape());
                multiply_by_derivative(g.data());
                return m_gradient;
            }
        }
        m_gradient = g;
        if (m_sampled && !Estimator::unit_derivative) {
            multiply_by_derivative(m_gradient.data());
        }
        return m_gradient;
    }

    /// @brief Switches between training (sample) and evaluation (expectation) mode.
    void set_training(bool training) noexcept { m_training = training; }
    /// @brief Whether the layer is in training mode (it starts so).
    bool training() const noexcept { return m_training; }

    /// @brief Training forward passes done so far; keys the noise and the temperature.
    std::uint64_t step() const noexcept { return m_step; }
    /// @brief Sets the step of the next training pass: replays its noise, or resumes a run.
    void set_step(std::uint64_t step) noexcept { m_step = step; }

    /// @brief The temperature the next training forward pass will use.
    double temperature() const { return checked_temperature(m_step); }

    /// @brief What the last sampling pass did: k, temperature, truncated mass and more.
    const noise_diagnostics& diagnostics() const noexcept { return m_diagnostics; }
    /// @brief The settings given at construction.
    const noise_options& options() const noexcept { return m_options; }
    /// @brief The RNG provider.
    const Rng& rng() const noexcept { return m_rng; }
    /// @brief The RNG provider, e.g. to restore its state.
    Rng& rng() noexcept { return m_rng; }
    /// @brief The k-rule policy.
    const KRule& k_rule() const noexcept { return m_k_rule; }
    /// @brief The temperature-schedule policy.
    const Temperature& temperature_schedule() const noexcept { return m_temperature; }

    /// @brief Stores the step counters and the RNG position under `prefix`.
    void save_state(io::checkpoint& out, std::string_view prefix) const {
        const std::string p(prefix);
        out.put_u64(p + "step", m_step);
        out.put_u64(p + "eval_passes", m_eval_passes);
        out.put_text(p + "rng", m_rng.state());
    }

    /// @brief Restores what `save_state` stored.
    void load_state(const io::checkpoint& in, std::string_view prefix) {
        const std::string p(prefix);
        m_step = in.get_u64(p + "step");
        m_eval_passes = in.get_u64(p + "eval_passes");
        m_rng.restore(in.get_text(p + "rng"));
    }

private:
    /// Evaluation passes that sample use steps counted down from here, apart from training's.
    static constexpr std::uint64_t eval_step_base = std::uint64_t{1} << 31;

    struct rate_scan {
        double max_rate = 0;
        std::size_t zeros = 0;
        bool valid = true;
    };

    struct tally {
        std::size_t top = 0;
        double gap = 0;
    };

    void sample_in_place() {
        const std::size_t n = m_output.size();
        const rate_scan scan = scan_rates(m_output.data(), n);
        const std::size_t k = Estimator::truncates ? checked_k(scan.max_rate) : 0;
        const std::uint64_t key_step = next_key_step();
        const T tau = static_cast<T>(checked_temperature(m_step));

        if constexpr (!Estimator::unit_derivative) {
            m_derivative.resize(m_output.shape());
        }
        const tally t = draw_all(n, k, tau, key_step);

        m_diagnostics = {m_step, n, k, double(tau), scan.max_rate,
                         Estimator::truncates ? poisson_upper_tail(k, scan.max_rate) : 0.0,
                         n ? double(t.top) / n : 0.0, n ? double(scan.zeros) / n : 0.0,
                         n > scan.zeros ? t.gap / double(n - scan.zeros) : 0.0};
        if (m_training) {
            ++m_step;
        } else {
            ++m_eval_passes;
        }
    }

    std::uint64_t next_key_step() const {
        if (m_training) {
            if (m_step >= eval_step_base) {
                throw invalid_argument(where() + "step " + std::to_string(m_step) +
                                       " is beyond the 2^31 training steps the keys allow");
            }
            return m_step;
        }
        return eval_step_base + m_eval_passes % eval_step_base;
    }

    /// Samples every element; on several threads when the provider is counter-based, through
    /// the estimator's bulk path when it has one (a sequential provider must give each
    /// element its uniforms in element order, which sample() does).
    tally draw_all(std::size_t n, std::size_t k, T tau, std::uint64_t key_step) {
        if constexpr (Rng::is_counter_based && bulk_gradient_estimator<Estimator, T>) {
            return draw_bulk(n, k, tau, key_step);
        } else {
            return draw_each(n, k, tau, key_step);
        }
    }

    // One element at a time, through the estimator's sample().
    tally draw_each(std::size_t n, std::size_t k, T tau, std::uint64_t key_step) {
        T* out = m_output.data();
        T* derivative = Estimator::unit_derivative ? nullptr : m_derivative.data();
        const auto count = static_cast<std::ptrdiff_t>(n);
        std::size_t top = 0;
        double gap = 0;
        if constexpr (Rng::is_counter_based) {
#pragma omp parallel reduction(+ : top, gap)
            {
                std::vector<T> scratch(2 * (k + 1));
                const noise_context<T> context{k, tau, scratch};
#pragma omp for schedule(dynamic, 1024)
                for (std::ptrdiff_t i = 0; i < count; ++i) {
                    draw_one(std::size_t(i), context, key_step, out, derivative, top, gap);
                }
            }
        } else {
            std::vector<T> scratch(2 * (k + 1));
            const noise_context<T> context{k, tau, scratch};
            for (std::ptrdiff_t i = 0; i < count; ++i) {
                draw_one(std::size_t(i), context, key_step, out, derivative, top, gap);
            }
        }
        return {top, gap};
    }

    /// Elements per call of the bulk path: enough to amortise its workspace and partial lane
    /// groups, few enough to share the work out evenly between threads.
    static constexpr std::size_t bulk_chunk = 2048;

    // Chunks of elements through the estimator's sample_bulk(), each chunk on one thread.
    tally draw_bulk(std::size_t n, std::size_t k, T tau, std::uint64_t key_step) {
        if (n == 0) return {};
        // The provider's own checks of the key (e.g. Philox's 32-bit element), before any thread.
        (void)m_rng.stream(stream_key{key_step, n - 1});
        const auto plan = m_estimator.bulk_plan(noise_context<T>{k, tau, {}});
        T* out = m_output.data();
        T* derivative = Estimator::unit_derivative ? nullptr : m_derivative.data();
        const auto chunks = static_cast<std::ptrdiff_t>((n + bulk_chunk - 1) / bulk_chunk);
        std::size_t top = 0;
        double gap = 0;
#pragma omp parallel reduction(+ : top, gap)
        {
            std::vector<noise_sample<T>> samples(bulk_chunk);
#pragma omp for schedule(dynamic, 1)
            for (std::ptrdiff_t c = 0; c < chunks; ++c) {
                const std::size_t begin = std::size_t(c) * bulk_chunk;
                const std::size_t size = std::min(bulk_chunk, n - begin);
                auto lanes = detail::make_lane_streams(m_rng, key_step, begin);
                m_estimator.sample_bulk(plan, std::span<const T>(out + begin, size), lanes,
                                        std::span<noise_sample<T>>(samples.data(), size));
#pragma omp simd reduction(+ : top, gap)
                for (std::size_t i = 0; i < size; ++i) {
                    record(begin + i, samples[i], k, out, derivative, top, gap);
                }
            }
        }
        return {top, gap};
    }

    void draw_one(std::size_t i, const noise_context<T>& context, std::uint64_t key_step, T* out,
                  T* derivative, std::size_t& top, double& gap) {
        auto stream = m_rng.stream(stream_key{key_step, i});
        record(i, m_estimator.sample(out[i], context, stream), context.k, out, derivative, top,
               gap);
    }

    // Stores the sample of element i over its rate and tallies the diagnostics.
    static void record(std::size_t i, const noise_sample<T>& s, std::size_t k, T* out,
                       T* derivative, std::size_t& top, double& gap) {
        const T rate = out[i];
        out[i] = s.value;
        if constexpr (!Estimator::unit_derivative) {
            derivative[i] = s.derivative;
        }
        top += Estimator::truncates && s.count == T(k) && rate > T(0);
        gap += std::abs(double(s.count) - double(s.relaxed));
    }

    rate_scan scan_rates(const T* rates, std::size_t n) const {
        rate_scan scan;
        using bits_type = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
        bits_type max_bits = 0;
        std::size_t zeros = 0;
        std::size_t invalid = 0;
        const auto count = static_cast<std::ptrdiff_t>(n);
        // Without branches, so that it vectorises: "finite and >= 0" as two comparisons that
        // NaN fails, counts instead of a logical and, and the largest rate as the largest
        // bit pattern (the bits of floats >= 0 are in their order; other values are refused).
#pragma omp parallel for simd reduction(max : max_bits) reduction(+ : zeros, invalid)
        for (std::ptrdiff_t i = 0; i < count; ++i) {
            const T r = rates[i];
            invalid += !((r >= T(0)) & (r <= std::numeric_limits<T>::max()));
            max_bits = std::max(max_bits, std::bit_cast<bits_type>(r));
            zeros += r == T(0);
        }
        if (invalid > 0) {
            report_first_invalid(rates, n);
        }
        scan.max_rate = std::bit_cast<T>(max_bits);
        scan.zeros = zeros;
        return scan;
    }

    [[noreturn]] void report_first_invalid(const T* rates, std::size_t n) const {
        std::size_t i = 0;
        while (i < n && std::isfinite(rates[i]) && rates[i] >= T(0)) ++i;
        throw invalid_argument(where() + "rate at index " + std::to_string(i) + " is " +
                               detail::to_text(rates[i]) + " (rates must be finite and >= 0)");
    }

    std::size_t checked_k(double max_rate) const {
        const std::size_t k = m_k_rule.select_k(max_rate);
        if (k > m_options.max_k) {
            throw invalid_argument(where() + "the largest rate, " + detail::to_text(max_rate) +
                                   ", needs k = " + std::to_string(k) + ", above max_k = " +
                                   std::to_string(m_options.max_k));
        }
        return k;
    }

    double checked_temperature(std::uint64_t step) const {
        const double tau = m_temperature.temperature(step);
        if (!(tau > 0.0) || !std::isfinite(tau)) {
            throw invalid_argument(where() + "temperature at step " + std::to_string(step) +
                                   " is " + detail::to_text(tau) + ", expected a finite tau > 0");
        }
        return tau;
    }

    // m_gradient = gradient * derivative, elementwise; gradient may be m_gradient itself.
    void multiply_by_derivative(const T* gradient) {
        T* g = m_gradient.data();
        const T* d = m_derivative.data();
        const auto count = static_cast<std::ptrdiff_t>(m_gradient.size());
#pragma omp parallel for schedule(static)
        for (std::ptrdiff_t i = 0; i < count; ++i) {
            g[i] = gradient[i] * d[i];
        }
    }

    std::string where() const { return "noise_layer \"" + m_options.name + "\": "; }

    Rng m_rng;
    noise_options m_options;
    KRule m_k_rule;
    Temperature m_temperature;
    Estimator m_estimator;

    tensor_type m_output;
    tensor_type m_derivative;
    tensor_type m_gradient;
    noise_diagnostics m_diagnostics;
    std::uint64_t m_step = 0;
    std::uint64_t m_eval_passes = 0;
    bool m_training = true;
    bool m_has_forward = false;
    bool m_sampled = false;
};

}  // namespace poisson
