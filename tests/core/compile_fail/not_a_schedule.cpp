// Must not compile: the type below has no `temperature(step)`, so it is not a
// poisson::temperature_schedule, and the compiler's message must say so.

#include "poisson/noise_layer.hpp"

struct not_a_schedule {
    double tau() const { return 1.0; }
};

int main() {
    poisson::noise_layer<poisson::straight_through_gumbel, poisson::batch_max, not_a_schedule>
        layer;
    (void)layer;
}
