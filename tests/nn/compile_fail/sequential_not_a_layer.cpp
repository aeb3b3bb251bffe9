// Must NOT compile: sequential rejects a type that is not a layer with a readable message.
#include "poisson/nn/relu.hpp"
#include "poisson/nn/sequential.hpp"

struct not_a_layer {
    using value_type = float;
    int forward(int x) { return x; }
};

int main() {
    poisson::nn::sequential<poisson::nn::relu<float>, not_a_layer> model;
    (void)model;
}
