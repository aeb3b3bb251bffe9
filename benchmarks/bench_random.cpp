// Throughput of the philox provider and of sample_poisson: nanoseconds per draw.
//
// Usage: bench_random [draws]   (default 2^22)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "poisson/random/philox.hpp"
#include "poisson/random/poisson_sampler.hpp"
#include "poisson/random/std_engine.hpp"

namespace {

// Runs body(n) five times and prints the best time per draw (the machine may be shared);
// the checksum keeps the results alive.
template <class Body>
void report(const char* what, std::size_t n, Body body) {
    double best = 1e300;
    double sink = 0;
    for (int repeat = 0; repeat < 5; ++repeat) {
        const auto start = std::chrono::steady_clock::now();
        sink += body(n);
        const std::chrono::duration<double, std::nano> elapsed =
            std::chrono::steady_clock::now() - start;
        best = std::min(best, elapsed.count() / static_cast<double>(n));
    }
    std::printf("%-44s %7.2f ns/draw   (checksum %.6g)\n", what, best, sink);
}

template <class T>
double along_one_stream(std::size_t n) {
    auto s = poisson::philox(1).stream({0, 0});
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += s.next<T>();
    return sum;
}

template <class T>
double by_fill(std::size_t n) {
    auto s = poisson::philox(1).stream({0, 0});
    std::vector<T> out(4096);
    double sum = 0;
    for (std::size_t done = 0; done < n; done += out.size()) {
        s.fill(out.data(), out.size());
        sum += out[17];
    }
    return sum;
}

// The noise layer's pattern: a fresh stream per element, a few uniforms from each.
double first_float_per_element(std::size_t n) {
    const poisson::philox provider(1, 2);
    double sum = 0;
    for (std::size_t e = 0; e < n; ++e) sum += provider.stream({5, e}).next<float>();
    return sum;
}

double poisson_philox(float rate, std::size_t n) {
    const poisson::philox provider(1, 2);
    double sum = 0;
    for (std::size_t e = 0; e < n; ++e) {
        auto s = provider.stream({5, e});
        sum += poisson::sample_poisson(rate, s);
    }
    return sum;
}

double poisson_mt(float rate, std::size_t n) {
    poisson::std_engine<> provider(1);
    auto s = provider.stream({});
    double sum = 0;
    for (std::size_t e = 0; e < n; ++e) sum += poisson::sample_poisson(rate, s);
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::stoull(argv[1]) : std::size_t{1} << 22;
    report("philox next<float>, one stream", n, along_one_stream<float>);
    report("philox next<double>, one stream", n, along_one_stream<double>);
    report("philox fill<float>", n, by_fill<float>);
    report("philox fill<double>", n, by_fill<double>);
    report("philox stream per element + next<float>", n, first_float_per_element);
    for (float rate : {0.5f, 5.0f, 9.9f, 10.0f, 200.0f, 1e5f}) {
        const std::string a = "sample_poisson(" + std::to_string(rate) + "), philox";
        const std::string b = "sample_poisson(" + std::to_string(rate) + "), mt19937_64";
        report(a.c_str(), n / 4, [rate](std::size_t m) { return poisson_philox(rate, m); });
        report(b.c_str(), n / 4, [rate](std::size_t m) { return poisson_mt(rate, m); });
    }
}
