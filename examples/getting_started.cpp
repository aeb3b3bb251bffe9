// getting_started: a small network with a Poisson noise layer, trained on the bundled MNIST
// sample. docs/getting-started.md walks through it. Usage: getting_started [steps]
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "poisson/data/batch.hpp"
#include "poisson/data/mnist.hpp"
#include "poisson/nn/dense.hpp"
#include "poisson/nn/flatten.hpp"
#include "poisson/nn/init.hpp"
#include "poisson/nn/relu.hpp"
#include "poisson/nn/sequential.hpp"
#include "poisson/nn/sgd_momentum.hpp"
#include "poisson/nn/softmax_cross_entropy.hpp"
#include "poisson/noise_layer.hpp"

namespace nn = poisson::nn;

int main(int argc, char** argv) {
    const std::size_t steps = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 400;
    const auto data = poisson::data::load_mnist(POISSON_BUNDLED_MNIST);  // 8,000 / 1,000 / 1,000

    // 784 pixels -> 128 ReLU units whose activations are Poisson rates -> 10 logits.
    nn::sequential net{nn::flatten<float>{}, nn::dense<float>(784, 128), nn::relu<float>{},
                       poisson::noise_layer<>{poisson::philox{1}}, nn::dense<float>(128, 10)};
    std::mt19937_64 engine(1);
    net.for_each_parameter([&](auto name, auto& value, auto&) {
        if (name.ends_with("weight")) nn::init::he_normal(value, engine);  // biases stay 0
    });

    nn::sgd_momentum<float> optimizer({.learning_rate = 0.01, .momentum = 0.9});
    nn::softmax_cross_entropy<float> loss;
    xt::xarray<float> images;
    xt::xarray<std::int32_t> labels;
    std::vector<std::size_t> order;
    const std::size_t batch = 100, per_epoch = data.train.size() / batch;
    for (std::size_t step = 0; step < steps; ++step) {
        if (step % per_epoch == 0) order = poisson::data::epoch_order(data.train.size(), engine);
        const auto indices = std::span(order).subspan(step % per_epoch * batch, batch);
        poisson::data::gather_batch(data.train, indices, images, labels);
        loss.forward(net.forward(images), labels);  // the noise layer samples counts
        net.backward(loss.gradient());
        optimizer.step(net);
    }

    net.set_training(false);  // evaluation: the noise layer passes its rates through
    std::vector<std::size_t> all(data.test.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    poisson::data::gather_batch(data.test, all, images, labels);
    loss.forward(net.forward(images), labels);
    std::printf("test accuracy after %zu steps: %.1f%%\n", steps,
                100.0 * double(loss.correct()) / double(data.test.size()));
}
