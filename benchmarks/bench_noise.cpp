// Forward + backward of a noise layer on the activations of a conv layer: a 100x32x28x28
// float tensor of ReLU-like rates (half exact zeros, the rest 2|N(0, 1)|, so k = 23).
//
// Prints, for each estimator and for 1 and 2 OpenMP threads, the best time of several
// repeats and the throughput in millions of elements per second, the CPU time of that repeat
// (all threads: on a shared machine, ms x threads much above it means the threads waited for
// a core), and the heap bytes per element that the layer keeps between passes.
//
// Usage: bench_noise [repeats=7]
//
// After each table row comes the same result as one JSON object on a line of its own, with a
// checksum of the output and the gradient: equal checksums on 1 and 2 threads show that the
// noise does not depend on the thread count.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>

#include <malloc.h>
#include <omp.h>
#include <xtensor/xarray.hpp>

#include "poisson/estimator/gumbel_rao.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/estimator/straight_through_identity.hpp"
#include "poisson/noise_layer.hpp"

namespace {

using tensor = xt::xarray<float>;

tensor relu_like_rates() {
    tensor rates = tensor::from_shape({100, 32, 28, 28});
    std::mt19937_64 engine(20240601);
    std::normal_distribution<float> normal;
    for (float& r : rates) r = 2.0f * std::max(0.0f, normal(engine));
    return rates;
}

// Bytes the allocator has handed out and not yet taken back (all arenas, mmap included).
std::size_t heap_in_use() {
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

// CPU time of the process, all threads, in milliseconds.
double cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

struct result {
    double best_ms = 0;
    double cpu_ms = 0;
    std::size_t k = 0;
    double kept_bytes_per_element = 0;
    std::uint64_t checksum = 0;
};

// FNV-1a over the bytes of a tensor, continuing from `hash`.
std::uint64_t fnv1a(const tensor& t, std::uint64_t hash = 14695981039346656037ull) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(t.data());
    for (std::size_t i = 0; i < t.size() * sizeof(float); ++i) {
        hash = (hash ^ bytes[i]) * 1099511628211ull;
    }
    return hash;
}

template <class Estimator>
result measure(const tensor& rates, const tensor& gradient, double tau, int repeats) {
    using layer_type = poisson::noise_layer<Estimator, poisson::batch_max,
                                            poisson::constant_temperature, poisson::philox>;
    const std::size_t before = heap_in_use();
    layer_type layer(poisson::philox(7), {}, poisson::batch_max(),
                     poisson::constant_temperature(tau));
    result r;
    r.best_ms = 1e300;
    for (int i = 0; i <= repeats; ++i) {  // the first pass only warms up
        layer.set_step(0);  // the same noise every repeat, so the checksum is of one pass
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = cpu_ms();
        const tensor& out = layer.forward(rates);
        const tensor& back = layer.backward(gradient);
        const std::chrono::duration<double, std::milli> elapsed =
            std::chrono::steady_clock::now() - start;
        if (i > 0 && elapsed.count() < r.best_ms) {
            r.best_ms = elapsed.count();
            r.cpu_ms = cpu_ms() - cpu_start;
        }
        if (i == 0) r.checksum = fnv1a(back, fnv1a(out));
    }
    r.k = layer.diagnostics().k;
    r.kept_bytes_per_element = double(heap_in_use() - before) / double(rates.size());
    return r;
}

template <class Estimator>
void report(const char* name, const tensor& rates, const tensor& gradient, double tau,
            int repeats) {
    for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        const result r = measure<Estimator>(rates, gradient, tau, repeats);
        const double rate = double(rates.size()) / (r.best_ms * 1e3);
        std::printf("%-28s %4.2f %7d %9.2f %10.2f %9.2f %4zu %7.1f\n", name, tau, threads,
                    r.best_ms, rate, r.cpu_ms, r.k, r.kept_bytes_per_element);
        std::printf("{\"estimator\": \"%s\", \"tau\": %g, \"threads\": %d, \"ms\": %.3f, "
                    "\"m_elements_per_s\": %.3f, \"cpu_ms\": %.3f, \"k\": %zu, "
                    "\"extra_bytes_per_element\": %.2f, \"checksum\": \"%016llx\"}\n",
                    name, tau, threads, r.best_ms, rate, r.cpu_ms, r.k,
                    r.kept_bytes_per_element, static_cast<unsigned long long>(r.checksum));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
    const tensor rates = relu_like_rates();
    const tensor gradient = xt::ones_like(rates);
    std::size_t zeros = 0;
    for (float r : rates) zeros += r == 0.0f;
    std::printf("noise layer forward + backward, %zu elements (%.1f%% zeros), best of %d\n",
                rates.size(), 100.0 * double(zeros) / double(rates.size()), repeats);
    std::printf("%-28s %4s %7s %9s %10s %9s %4s %7s\n", "estimator", "tau", "threads", "ms",
                "M elem/s", "cpu ms", "k", "B/elem");
    report<poisson::straight_through_gumbel>("straight_through_gumbel", rates, gradient, 1.0,
                                             repeats);
    report<poisson::straight_through_gumbel>("straight_through_gumbel", rates, gradient, 0.5,
                                             repeats);
    report<poisson::relaxed_gumbel>("relaxed_gumbel", rates, gradient, 1.0, repeats);
    report<poisson::gumbel_rao<4>>("gumbel_rao<4>", rates, gradient, 1.0, repeats);
    report<poisson::straight_through_identity>("straight_through_identity", rates, gradient,
                                               1.0, repeats);
    return 0;
}
