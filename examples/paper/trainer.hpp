#pragma once

// Trains one network of the report on MNIST: the loop, its guards, progress, learning curve
// and checkpoints.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "curve.hpp"
#include "models.hpp"
#include "settings.hpp"
#include "poisson/data/batch.hpp"
#include "poisson/data/mnist.hpp"
#include "poisson/errors.hpp"
#include "poisson/io/checkpoint.hpp"
#include "poisson/nn/softmax_cross_entropy.hpp"
#include "poisson/nn/sgd_momentum.hpp"
#include "poisson/nn/training_state.hpp"

namespace paper {

struct mnist_splits_sizes {
    std::size_t train = 0, validation = 0, test = 0;
};

struct model_result {
    model_kind model;
    double validation_accuracy = 0;  // percent
    double test_accuracy = 0;        // percent
    std::uint64_t steps = 0;
    double seconds = 0;              // training time of this run (not of a resumed part)
    double images_per_second = 0;
};

/// Fraction of `set` that `net` classifies correctly, in evaluation mode, in batches.
template <class Net>
double accuracy(Net& net, const poisson::data::dataset& set) {
    constexpr std::size_t batch = 500;
    net.set_training(false);
    poisson::nn::softmax_cross_entropy<real> loss;
    xt::xarray<real> images;
    xt::xarray<std::int32_t> labels;
    std::vector<std::size_t> indices;
    std::size_t correct = 0;
    for (std::size_t first = 0; first < set.size(); first += batch) {
        indices.clear();
        for (std::size_t i = first; i < std::min(set.size(), first + batch); ++i) {
            indices.push_back(i);
        }
        poisson::data::gather_batch(set, indices, images, labels);
        loss.forward(net.forward(images), labels);
        correct += loss.correct();
    }
    net.set_training(true);
    return set.size() ? 100.0 * double(correct) / double(set.size()) : 0.0;
}

/// The mini-batches of a run: epoch `e` visits the training set in an order drawn from
/// (seed, e) alone, so the batch of any step is known without replaying the run.
class batch_schedule {
public:
    batch_schedule(std::size_t examples, std::size_t batch, std::uint64_t seed)
        : m_examples(examples), m_batch(batch), m_seed(seed) {
        if (batch > examples) {
            throw poisson::invalid_argument("mnist_paper: --batch " + std::to_string(batch) +
                                            " is larger than the " + std::to_string(examples) +
                                            " training images");
        }
    }

    /// Indices of the batch of `step` (whole batches only; an epoch's remainder is skipped).
    std::span<const std::size_t> indices(std::uint64_t step) {
        const std::uint64_t per_epoch = m_examples / m_batch;
        const std::uint64_t epoch = step / per_epoch;
        if (epoch != m_epoch || m_order.empty()) {
            std::seed_seq seq{std::uint32_t(m_seed), std::uint32_t(m_seed >> 32),
                              std::uint32_t(epoch), std::uint32_t(epoch >> 32)};
            std::mt19937_64 engine(seq);
            m_order = poisson::data::epoch_order(m_examples, engine);
            m_epoch = epoch;
        }
        return std::span<const std::size_t>(m_order).subspan((step % per_epoch) * m_batch,
                                                             m_batch);
    }

private:
    std::size_t m_examples;
    std::size_t m_batch;
    std::uint64_t m_seed;
    std::uint64_t m_epoch = 0;
    std::vector<std::size_t> m_order;
};

/// Throws `numerical_error` naming the step and the parameter if a gradient is not finite.
template <class Net>
void require_finite_gradients(Net& net, std::uint64_t step) {
    net.for_each_parameter([&](std::string_view name, auto&, auto& gradient) {
        for (std::size_t i = 0; i < gradient.size(); ++i) {
            if (!std::isfinite(gradient.data()[i])) {
                std::ostringstream out;
                out << "mnist_paper: at step " << step << " the gradient of layer "
                    << name.substr(0, name.find('.')) << " (" << name << ") is "
                    << gradient.data()[i] << " at index " << i << "; training stopped";
                throw poisson::numerical_error(out.str());
            }
        }
    });
}

/// Everything a run needs to continue exactly where it stopped.
template <class Net>
void save_checkpoint(const std::filesystem::path& path, Net& net,
                     poisson::nn::sgd_momentum<real>& optimizer, std::uint64_t step,
                     const std::string& identity, const learning_curve& curve) {
    poisson::io::checkpoint out;
    out.put_text("run/identity", identity);
    out.put_u64("run/step", step);
    out.put_text("run/curve", curve.csv());
    poisson::nn::save_training_state(out, net, optimizer);
    out.save(path);
}

/// Loads a checkpoint into `net` and `optimizer`; returns the step to continue from.
template <class Net>
std::uint64_t load_checkpoint(const std::filesystem::path& path, Net& net,
                              poisson::nn::sgd_momentum<real>& optimizer,
                              const std::string& identity, learning_curve& curve) {
    const auto in = poisson::io::checkpoint::load(path);
    const std::string saved = in.get_text("run/identity");
    if (saved != identity) {
        throw poisson::invalid_argument("mnist_paper: checkpoint " + path.string() +
                                        " was saved by another run:\n  saved: " + saved +
                                        "\n  now:   " + identity);
    }
    poisson::nn::load_training_state(in, net, optimizer);
    curve.restore(in.get_text("run/curve"));
    return in.get_u64("run/step");
}

/// The model a checkpoint of `mnist_paper` was saved from.
/// @throws the checkpoint's errors for a missing or damaged file, invalid_argument for a
/// checkpoint that does not name a model of this program.
inline model_kind checkpoint_model(const std::filesystem::path& path) {
    const std::string identity =
        poisson::io::checkpoint::load(path).get_text("run/identity");  // "model=p2 batch=..."
    const std::string name = identity.substr(0, identity.find(' '));
    for (auto kind : all_models) {
        if (name == "model=" + std::string(model_name(kind))) return kind;
    }
    throw poisson::invalid_argument("mnist_paper: checkpoint " + path.string() +
                                    " names no model of this program (\"" + name + "\")");
}

/// Prints "1m05s" for 65 seconds.
inline std::string duration_text(double seconds) {
    const auto s = static_cast<long>(seconds + 0.5);
    std::ostringstream out;
    if (s >= 3600) out << s / 3600 << 'h';
    if (s >= 60) out << (s / 60) % 60 << 'm';
    out << s % 60 << 's';
    return out.str();
}

/// Trains `net` with the report's optimizer and returns its accuracies.
template <class Net>
model_result train(Net& net, model_kind kind, const poisson::data::mnist_splits& data,
                   const run_settings& s) {
    using clock = std::chrono::steady_clock;
    poisson::nn::sgd_momentum<real> optimizer({*s.learning_rate, s.momentum});
    poisson::nn::softmax_cross_entropy<real> loss;
    batch_schedule schedule(data.train.size(), s.batch, s.seed);
    learning_curve curve(net);
    const std::string identity = identity_of(s, kind);
    const std::string name(model_name(kind));

    std::uint64_t step = 0;
    if (!s.resume.empty()) {
        step = load_checkpoint(s.resume, net, optimizer, identity, curve);
        if (step >= *s.steps) {
            throw poisson::invalid_argument(
                "mnist_paper: checkpoint " + s.resume.string() + " is at step " +
                std::to_string(step) + ", so --steps " + std::to_string(*s.steps) +
                " leaves nothing to train: give more steps than that");
        }
        std::printf("[%s] resumed from %s at step %llu\n", name.c_str(), s.resume.c_str(),
                    static_cast<unsigned long long>(step));
    }
    const std::uint64_t first_step = step;
    xt::xarray<real> images;
    xt::xarray<std::int32_t> labels;
    running_mean interval;
    const auto start = clock::now();
    auto seconds_since_start = [&] {
        return std::chrono::duration<double>(clock::now() - start).count();
    };

    net.set_training(true);
    for (; step < *s.steps; ++step) {
        poisson::data::gather_batch(data.train, schedule.indices(step), images, labels);
        const real value = loss.forward(net.forward(images), labels);
        if (!std::isfinite(value)) {
            throw poisson::numerical_error("mnist_paper: the loss at step " +
                                           std::to_string(step) + " is not finite");
        }
        net.backward(loss.gradient());
        require_finite_gradients(net, step);
        optimizer.step(net);
        interval.add(value, loss.correct(), s.batch);

        const std::uint64_t done = step + 1;
        const bool evaluate = done % s.eval_every == 0 || done == *s.steps;
        if (done % s.log_every == 0 || evaluate) {
            const double elapsed = seconds_since_start();
            const double rate = double(done - first_step) * double(s.batch) / elapsed;
            const double validation = evaluate ? accuracy(net, data.validation) : -1.0;
            curve.add(net, done, interval, validation, rate, elapsed);
            std::printf("[%s] step %llu/%llu  loss %.4f  train %.2f%%  %s%.0f img/s  left %s\n",
                        name.c_str(), static_cast<unsigned long long>(done),
                        static_cast<unsigned long long>(*s.steps), interval.loss(),
                        interval.accuracy(),
                        evaluate ? ("validation " + percent_text(validation) + "  ").c_str() : "",
                        rate,
                        duration_text(double(*s.steps - done) * double(s.batch) / rate).c_str());
            std::fflush(stdout);
            interval = {};
            if (evaluate && !s.save.empty()) {
                save_checkpoint(s.save, net, optimizer, done, identity, curve);
            }
        }
    }
    const double seconds = seconds_since_start();
    model_result result{kind};
    result.validation_accuracy = accuracy(net, data.validation);
    result.test_accuracy = accuracy(net, data.test);
    result.steps = *s.steps;
    result.seconds = seconds;
    result.images_per_second = double(*s.steps - first_step) * double(s.batch) / seconds;
    if (!s.out.empty()) curve.write(s.out, name);
    return result;
}

}  // namespace paper
