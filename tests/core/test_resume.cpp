// A run saved and restored continues bit for bit like a run that was never interrupted.

#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/nn/conv2d.hpp"
#include "poisson/nn/dense.hpp"
#include "poisson/nn/dropout.hpp"
#include "poisson/nn/flatten.hpp"
#include "poisson/nn/init.hpp"
#include "poisson/nn/max_pool2d.hpp"
#include "poisson/nn/relu.hpp"
#include "poisson/nn/sequential.hpp"
#include "poisson/nn/sgd_momentum.hpp"
#include "poisson/nn/softmax_cross_entropy.hpp"
#include "poisson/nn/training_state.hpp"
#include "poisson/noise_layer.hpp"

using namespace poisson;

namespace {

using noise = noise_layer<straight_through_gumbel, batch_max, constant_temperature, philox>;
using net_type = nn::sequential<nn::conv2d<float>, nn::relu<float>, noise, nn::max_pool2d<float>,
                                nn::flatten<float>, nn::dense<float>,
                                nn::dropout<float, philox>, nn::dense<float>>;

net_type make_net(std::size_t hidden = 16) {
    net_type net(nn::conv2d<float>::same(1, 4, 3, 3), nn::relu<float>(), noise(philox(1, 1)),
                 nn::max_pool2d<float>(), nn::flatten<float>(), nn::dense<float>(64, hidden),
                 nn::dropout<float, philox>(0.5f, philox(1, 2)), nn::dense<float>(hidden, 3));
    std::mt19937_64 engine(3);
    net.for_each_parameter([&](std::string_view name, nn::tensor<float>& value,
                               nn::tensor<float>&) {
        if (name.ends_with("weight")) nn::init::he_normal(value, engine);
        else nn::init::constant(value, 0.1);
    });
    return net;
}

struct batch {
    xt::xarray<float> images = xt::xarray<float>::from_shape({5, 8, 8, 1});
    xt::xarray<std::int32_t> labels = {0, 1, 2, 1, 0};
    batch() {
        for (std::size_t i = 0; i < images.size(); ++i) images.data()[i] = float(i % 7) * 0.3f;
    }
};

void train(net_type& net, nn::sgd_momentum<float>& optimizer, int steps) {
    const batch data;
    nn::softmax_cross_entropy<float> loss;
    for (int i = 0; i < steps; ++i) {
        loss.forward(net.forward(data.images), data.labels);
        net.backward(loss.gradient());
        optimizer.step(net);
    }
}

std::vector<xt::xarray<float>> parameters(net_type& net) {
    std::vector<xt::xarray<float>> out;
    net.for_each_parameter([&](std::string_view, auto& value, auto&) { out.push_back(value); });
    return out;
}

}  // namespace

TEST_CASE("training_state: save, load and continue equals an uninterrupted run") {
    const auto path = std::filesystem::temp_directory_path() / "poisson_resume_test.ckpt";
    net_type straight = make_net();
    nn::sgd_momentum<float> straight_optimizer({0.05, 0.9});
    train(straight, straight_optimizer, 10);

    {
        net_type first = make_net();
        nn::sgd_momentum<float> optimizer({0.05, 0.9});
        train(first, optimizer, 4);
        io::checkpoint out;
        nn::save_training_state(out, first, optimizer);
        out.save(path);
    }
    net_type resumed = make_net();
    nn::sgd_momentum<float> optimizer({0.05, 0.9});
    nn::load_training_state(io::checkpoint::load(path), resumed, optimizer);
    CHECK(resumed.get<2>().step() == 4);
    CHECK(resumed.get<6>().step() == 4);
    train(resumed, optimizer, 6);
    CHECK(parameters(resumed) == parameters(straight));

    // Power: without the noise layer's step the continuation draws other noise.
    net_type forgetful = make_net();
    nn::sgd_momentum<float> forgetful_optimizer({0.05, 0.9});
    nn::load_training_state(io::checkpoint::load(path), forgetful, forgetful_optimizer);
    forgetful.get<2>().set_step(0);
    train(forgetful, forgetful_optimizer, 6);
    CHECK(parameters(forgetful) != parameters(straight));
    std::filesystem::remove(path);
}

TEST_CASE("training_state: a checkpoint of another shape is refused, naming the record") {
    net_type small = make_net(16);
    nn::sgd_momentum<float> optimizer;
    train(small, optimizer, 1);
    io::checkpoint out;
    nn::save_training_state(out, small, optimizer);

    net_type wider = make_net(32);
    nn::sgd_momentum<float> other;
    CHECK_THROWS_WITH_AS(nn::load_training_state(out, wider, other),
                         doctest::Contains("param/5.weight"), invalid_argument);
}

TEST_CASE("training_state: layers inside nested containers keep their state too") {
    using inner = nn::sequential<nn::relu<float>, noise>;
    nn::sequential<nn::dense<float>, inner> outer(nn::dense<float>(4, 3),
                                                  inner(nn::relu<float>(), noise(philox(2, 1))));
    nn::sgd_momentum<float> optimizer;
    const xt::xarray<float> x = xt::ones<float>({2, 4});
    outer.forward(x);
    outer.forward(x);
    io::checkpoint out;
    nn::save_training_state(out, outer, optimizer);
    CHECK(out.get_u64("state/1/1/step") == 2);

    nn::sequential<nn::dense<float>, inner> copy(nn::dense<float>(4, 3),
                                                 inner(nn::relu<float>(), noise(philox(2, 1))));
    nn::load_training_state(out, copy, optimizer);
    CHECK(copy.get<1>().get<1>().step() == 2);
}
