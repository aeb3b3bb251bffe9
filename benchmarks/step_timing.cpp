// Times one training step (forward, loss, backward, optimizer) of the report's baseline
// MNIST network at batch 100 in float, layer by layer, and compares it with the time of
// the bare sgemm calls the step is made of.
//
// Usage: step_timing [iterations = 20] [--cpu]
//
// --cpu measures process CPU time instead of wall time. On a machine shared with other
// jobs, run single-threaded (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) with --cpu to
// measure the work itself; time spent descheduled is then left out.
//
// Environment that matters:
// - OpenBLAS chooses kernels by CPU model; Debian's 0.3.21 does not know recent Xeons and
//   falls back to "Prescott" (SSE3, about 6x slower sgemm). The program prints the core in
//   use; OPENBLAS_CORETYPE=SkylakeX selects the AVX-512 kernels.
// - With the pthread build of OpenBLAS, OpenMP threads that spin after a parallel loop
//   compete with the BLAS threads for the cores; OMP_WAIT_POLICY=passive avoids it.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

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

// Present only when the BLAS is OpenBLAS.
extern "C" char* openblas_get_corename() __attribute__((weak));

namespace {

namespace nn = poisson::nn;
using nn::tensor;

// steady_clock, or the process CPU-time clock when `use_cpu_time` is set.
bool use_cpu_time = false;

struct clock_type {
    using time_point = double;  // milliseconds
    static time_point now() {
        if (use_cpu_time) {
            timespec ts{};
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
            return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
        }
        return std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
};

constexpr std::size_t batch = 100;

auto make_model() {
    nn::sequential model{
        nn::conv2d<float>::same(1, 32, 5, 5, {.compute_input_gradient = false}),
        nn::relu<float>{},
        nn::max_pool2d<float>{},
        nn::conv2d<float>::same(32, 64, 5, 5),
        nn::relu<float>{},
        nn::max_pool2d<float>{},
        nn::flatten<float>{},
        nn::dense<float>(7 * 7 * 64, 1024),
        nn::relu<float>{},
        nn::dropout<float>(0.5f),
        nn::dense<float>(1024, 10),
    };
    std::mt19937_64 engine(1);
    model.for_each_parameter([&](std::string_view name, tensor<float>& value, tensor<float>&) {
        if (name.ends_with("weight")) {
            nn::init::truncated_normal(value, engine);
        } else {
            nn::init::constant(value);
        }
    });
    return model;
}

using model_type = decltype(make_model());
constexpr std::size_t layers = model_type::size;

double ms_since(clock_type::time_point start) { return clock_type::now() - start; }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Per-layer forward and backward times of one step, in milliseconds.
struct step_times {
    std::array<double, layers> forward{};
    std::array<double, layers> backward{};
    double loss = 0, optimizer = 0;
};

template <std::size_t... I>
step_times timed_step(model_type& model, const tensor<float>& x,
                      const std::vector<std::int32_t>& labels,
                      nn::softmax_cross_entropy<float>& loss, nn::sgd_momentum<float>& opt,
                      std::index_sequence<I...>) {
    step_times t;
    const tensor<float>* cur = &x;
    ((t.forward[I] = [&] {
         const auto start = clock_type::now();
         cur = &model.get<I>().forward(*cur);
         return ms_since(start);
     }()),
     ...);
    auto start = clock_type::now();
    loss.forward(*cur, labels);
    t.loss = ms_since(start);
    cur = &loss.gradient();
    ((t.backward[layers - 1 - I] = [&] {
         const auto begin = clock_type::now();
         cur = &model.get<layers - 1 - I>().backward(*cur);
         return ms_since(begin);
     }()),
     ...);
    start = clock_type::now();
    opt.step(model);
    t.optimizer = ms_since(start);
    return t;
}

struct gemm_shape {
    const char* what;
    std::size_t m, n, k;
    bool trans_a, trans_b;
};

// The matrix products of one step of this network (conv1 needs no input gradient).
const std::vector<gemm_shape> step_gemms = {
    {"conv1 forward", batch * 28 * 28, 32, 25, false, false},
    {"conv1 dW", 25, 32, batch * 28 * 28, true, false},
    {"conv2 forward", batch * 14 * 14, 64, 800, false, false},
    {"conv2 dW", 800, 64, batch * 14 * 14, true, false},
    {"conv2 dcol", batch * 14 * 14, 800, 64, false, true},
    {"fc1 forward", batch, 1024, 3136, false, false},
    {"fc1 dW", 3136, 1024, batch, true, false},
    {"fc1 dX", batch, 3136, 1024, false, true},
    {"fc2 forward", batch, 10, 1024, false, false},
    {"fc2 dW", 1024, 10, batch, true, false},
    {"fc2 dX", batch, 1024, 10, false, true},
};

// Median time of each bare sgemm call of one step, on buffers of the same shapes.
std::vector<double> time_bare_gemms(int iterations) {
    std::vector<std::vector<double>> times(step_gemms.size());
    for (std::size_t i = 0; i < step_gemms.size(); ++i) {
        const auto& s = step_gemms[i];
        std::vector<float> a(s.m * s.k, 0.01f), b(s.k * s.n, 0.02f), c(s.m * s.n);
        for (int it = 0; it < iterations + 3; ++it) {
            const auto start = clock_type::now();
            using nn::detail::op;
            nn::detail::gemm(1.0f, {a.data(), s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k},
                             s.trans_a ? op::transpose : op::none,
                             {b.data(), s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n},
                             s.trans_b ? op::transpose : op::none, 0.0f, {c.data(), s.m, s.n},
                             "benchmark");
            if (it >= 3) {
                times[i].push_back(ms_since(start));
            }
        }
    }
    std::vector<double> out;
    for (const auto& t : times) {
        out.push_back(median(t));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int iterations = 20;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--cpu") {
            use_cpu_time = true;
        } else {
            iterations = std::max(1, std::atoi(argv[i]));
        }
    }
    // OpenBLAS picks its kernels by CPU model and falls back to a slow generic core for a
    // model it does not know: say which one runs (OPENBLAS_CORETYPE overrides it).
    if (openblas_get_corename != nullptr) {
        std::printf("OpenBLAS core: %s\n", openblas_get_corename());
    }
    auto model = make_model();
    nn::softmax_cross_entropy<float> loss;
    nn::sgd_momentum<float> opt;
    std::mt19937_64 engine(2);
    tensor<float> x = tensor<float>::from_shape({batch, 28, 28, 1});
    for (auto& v : x) {
        v = static_cast<float>(nn::init::uniform_open(engine));
    }
    std::vector<std::int32_t> labels(batch);
    for (auto& l : labels) {
        l = static_cast<std::int32_t>(engine() % 10);
    }

    std::vector<step_times> runs;
    std::vector<double> totals;
    for (int it = 0; it < iterations + 3; ++it) {  // 3 warm-up steps allocate the buffers
        const auto start = clock_type::now();
        const auto t = timed_step(model, x, labels, loss, opt, std::make_index_sequence<layers>{});
        const double total = ms_since(start);
        if (it >= 3) {
            runs.push_back(t);
            totals.push_back(total);
        }
    }

    const char* names[layers] = {"conv1", "relu1", "pool1", "conv2",   "relu2", "pool2",
                                 "flatten", "fc1", "relu3", "dropout", "fc2"};
    std::printf("%-8s %10s %10s   (median %s ms over %d steps)\n", "layer", "forward",
                "backward", use_cpu_time ? "CPU" : "wall", iterations);
    for (std::size_t l = 0; l < layers; ++l) {
        std::vector<double> f, b;
        for (const auto& r : runs) {
            f.push_back(r.forward[l]);
            b.push_back(r.backward[l]);
        }
        std::printf("%-8s %10.2f %10.2f\n", names[l], median(f), median(b));
    }
    std::vector<double> opt_times, loss_times;
    for (const auto& r : runs) {
        opt_times.push_back(r.optimizer);
        loss_times.push_back(r.loss);
    }
    const double step = median(totals), sgd = median(opt_times);
    const auto gemm_times = time_bare_gemms(iterations);
    double gemm_ms = 0, gflop = 0;
    std::printf("\nbare sgemm %-14s %8s %8s\n", "call", "ms", "GFLOP/s");
    for (std::size_t i = 0; i < step_gemms.size(); ++i) {
        const auto& g = step_gemms[i];
        const double f = 2.0 * double(g.m) * double(g.n) * double(g.k) * 1e-9;
        std::printf("           %-14s %8.2f %8.1f\n", g.what, gemm_times[i],
                    f / gemm_times[i] * 1e3);
        gemm_ms += gemm_times[i];
        gflop += f;
    }
    std::printf("\nloss %.2f ms, optimizer %.2f ms\n", median(loss_times), sgd);
    std::printf("training step (forward + loss + backward + sgd): %.1f ms median, %.1f min\n",
                step, *std::min_element(totals.begin(), totals.end()));
    std::printf("forward + backward without the optimizer: %.1f ms\n", step - sgd);
    std::printf("bare sgemm calls of one step: %.1f ms for %.2f GFLOP (%.0f GFLOP/s)\n",
                gemm_ms, gflop, gflop / gemm_ms * 1e3);
    std::printf("(forward + backward) / bare sgemm: %.2f\n", (step - sgd) / gemm_ms);
}
