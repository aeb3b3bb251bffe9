// What a user of the library writes first: one noise layer, one forward pass. Built by the
// package tests against the installed package and through add_subdirectory.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

#include <xtensor/xarray.hpp>

#include <poisson/noise_layer.hpp>
#include <poisson/version.hpp>

int main() {
    poisson::noise_layer<> layer{poisson::philox{1}};
    const xt::xarray<float> rates = {{0.0f, 0.5f, 1.0f}, {2.0f, 8.0f, 32.0f}};

    const auto& noisy = layer.forward(rates);

    const std::vector<std::size_t> expected{2, 3};
    if (!std::equal(noisy.shape().begin(), noisy.shape().end(), expected.begin(),
                    expected.end())) {
        std::fprintf(stderr, "consumer: the output shape is not 2x3\n");
        return 1;
    }
    // A training pass samples counts, so a value that is not a whole number >= 0 means the
    // program did not get the layer it asked for.
    for (const float count : noisy) {
        if (!(count >= 0.0f) || std::floor(count) != count) {
            std::fprintf(stderr, "consumer: %g is not a Poisson count\n", double(count));
            return 1;
        }
    }
    std::printf("consumer: poisson_noise %s, forward gave a 2x3 tensor of counts\n",
                poisson::version);
    return 0;
}
