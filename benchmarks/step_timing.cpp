// Times one training step (forward, loss, backward, optimizer) of the report's MNIST
// networks at batch 100 in float, layer by layer, and compares it with the time of the bare
// sgemm calls the step is made of (the noise layers add none).
//
// Usage: step_timing [iterations = 20] [--cpu] [--model baseline|p1|p2|p_ste|all]...
//
// The networks are those the examples train (examples/paper/models.hpp), the baseline by
// default; --model may be repeated. With several models each runs in its own child process,
// so that its peak resident memory is its own. The last lines of standard output are one
// JSON object per model: ms_per_step (median), sgemm_floor_ms (the bare sgemm calls of one
// step, measured in the same process right after the steps), ratio (their quotient) and
// peak_rss_mib (the process's peak resident memory after the steps, before the floor).
//
// --cpu measures process CPU time instead of wall time. On a machine shared with other
// jobs, run single-threaded (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) with --cpu to
// measure the work itself; time spent descheduled is then left out.
//
// Environment that matters (the program restarts itself once to set what is unset, as the
// examples do; see examples/common/blas_core.hpp):
// - OpenBLAS chooses kernels by CPU model; Debian's 0.3.21 does not know recent Xeons and
//   falls back to "Prescott" (SSE3, about 6x slower sgemm). OPENBLAS_CORETYPE=SkylakeX
//   selects the AVX-512 kernels.
// - With the pthread build of OpenBLAS, OpenMP threads that spin after a parallel loop
//   compete with the BLAS threads for the cores; OMP_WAIT_POLICY=passive avoids it, and
//   OPENBLAS_THREAD_TIMEOUT=20 the reverse (BLAS threads spinning through OpenMP loops).

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <omp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/blas_core.hpp"
#include "paper/models.hpp"
#include "poisson/nn/init.hpp"
#include "poisson/nn/sgd_momentum.hpp"
#include "poisson/nn/softmax_cross_entropy.hpp"

// Present only when the BLAS is OpenBLAS.
extern "C" int openblas_get_num_threads() __attribute__((weak));

namespace {

namespace nn = poisson::nn;
using nn::tensor;
using paper::model_kind;

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

double ms_since(clock_type::time_point start) { return clock_type::now() - start; }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Short name of a layer type, for the table.
template <class L>
constexpr std::string_view kind_of() {
    if constexpr (std::same_as<L, paper::conv>) {
        return "conv";
    } else if constexpr (std::same_as<L, paper::relu>) {
        return "relu";
    } else if constexpr (std::same_as<L, paper::pool>) {
        return "pool";
    } else if constexpr (std::same_as<L, paper::head_flatten>) {
        return "flatten";
    } else if constexpr (std::same_as<L, paper::dense>) {
        return "fc";
    } else if constexpr (std::same_as<L, paper::dropout>) {
        return "dropout";
    } else if constexpr (std::same_as<L, paper::gumbel_noise>) {
        return "gumbel";
    } else if constexpr (std::same_as<L, paper::identity_noise>) {
        return "ste";
    } else {
        return "layer";
    }
}

// "conv1", "relu1", "pool1", "conv2", ...: kind and how many of that kind came so far.
template <class Net>
std::vector<std::string> layer_names(Net& net) {
    std::vector<std::string> names;
    std::vector<std::string_view> kinds;
    net.for_each_layer([&](std::size_t, auto& l) {
        const auto kind = kind_of<std::remove_cvref_t<decltype(l)>>();
        kinds.push_back(kind);
        const auto count = std::count(kinds.begin(), kinds.end(), kind);
        names.push_back(std::string(kind) + std::to_string(count));
    });
    return names;
}

// Per-layer forward and backward times of one step, in milliseconds; a layer that shares
// a pass with a neighbour (see sequential) has its time counted in that neighbour's.
template <std::size_t Layers>
struct step_times {
    std::array<double, Layers> forward{};
    std::array<double, Layers> backward{};
    std::array<bool, Layers> fused_forward{}, fused_backward{};
    double loss = 0, optimizer = 0, total = 0;
};

// The forward pass starting at layer I as sequential runs it (one layer, or several
// sharing a pass: their time goes to layer I), then the rest.
template <std::size_t I, class Net, class Times>
const tensor<float>& timed_forward(Net& net, const tensor<float>& x, Times& t) {
    if constexpr (I == Net::size) {
        return x;
    } else {
        constexpr std::size_t length = Net::template forward_stage_length<I>;
        const auto start = clock_type::now();
        const auto& y = net.template forward_stage<I>(x);
        t.forward[I] = ms_since(start);
        for (std::size_t l = I + 1; l < I + length; ++l) {
            t.fused_forward[l] = true;
        }
        return timed_forward<I + length>(net, y, t);
    }
}

// The backward pass ending at layer I as sequential runs it, then the rest.
template <std::size_t I, class Net, class Times>
void timed_backward(Net& net, const tensor<float>& g, Times& t) {
    constexpr std::size_t length = Net::template backward_stage_length<I>;
    const auto start = clock_type::now();
    const auto& dx = net.template backward_stage<I>(g);
    t.backward[I] = ms_since(start);
    for (std::size_t l = I + 1 - length; l < I; ++l) {
        t.fused_backward[l] = true;
    }
    if constexpr (I >= length) {
        timed_backward<I - length>(net, dx, t);
    }
}

// One training step, layer by layer.
template <class Net>
step_times<Net::size> timed_step(Net& net, const tensor<float>& x,
                                 const std::vector<std::int32_t>& labels,
                                 nn::softmax_cross_entropy<float>& loss,
                                 nn::sgd_momentum<float>& opt) {
    step_times<Net::size> t;
    const auto step_start = clock_type::now();
    const auto& logits = timed_forward<0>(net, x, t);
    auto start = clock_type::now();
    loss.forward(logits, labels);
    t.loss = ms_since(start);
    timed_backward<Net::size - 1>(net, loss.gradient(), t);
    start = clock_type::now();
    opt.step(net);
    t.optimizer = ms_since(start);
    t.total = ms_since(step_start);
    return t;
}

// One training step as a training loop runs it, in milliseconds.
template <class Net>
double plain_step(Net& net, const tensor<float>& x, const std::vector<std::int32_t>& labels,
                  nn::softmax_cross_entropy<float>& loss, nn::sgd_momentum<float>& opt) {
    const auto start = clock_type::now();
    loss.forward(net.forward(x), labels);
    net.backward(loss.gradient());
    opt.step(net);
    return ms_since(start);
}

struct gemm_shape {
    const char* what;
    std::size_t m, n, k;
    bool trans_a, trans_b;
};

// The matrix products of one step of these networks (conv1 needs no input gradient).
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

// The bare sgemm table; returns the floor, the sum of the calls' medians.
double print_floor(int iterations) {
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
    std::printf("bare sgemm calls of one step: %.1f ms for %.2f GFLOP (%.0f GFLOP/s)\n",
                gemm_ms, gflop, gflop / gemm_ms * 1e3);
    return gemm_ms;
}

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// Runs `iterations` timed steps of one model (after 3 warm-up steps that allocate the
// buffers), prints its table and returns its JSON line.
std::string measure(model_kind kind, int iterations) {
    return paper::with_model(kind, 1, paper::init_kind::tutorial, {}, [&](auto& net) {
        using net_type = std::remove_cvref_t<decltype(net)>;
        constexpr std::size_t layers = net_type::size;
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
        // 3 warm-up steps allocate the buffers; then the plain steps, then the timed ones.
        std::vector<double> totals;
        for (int it = 0; it < iterations + 3; ++it) {
            const double ms = plain_step(net, x, labels, loss, opt);
            if (it >= 3) {
                totals.push_back(ms);
            }
        }
        std::vector<step_times<layers>> runs;
        for (int it = 0; it < iterations; ++it) {
            runs.push_back(timed_step(net, x, labels, loss, opt));
        }
        const auto pick = [&](auto field) {
            std::vector<double> v;
            for (const auto& r : runs) {
                v.push_back(field(r));
            }
            return v;
        };
        const auto names = layer_names(net);
        std::printf("\nmodel %s\n%-8s %10s %10s   (median %s ms over %d steps; \"fused\": "
                    "counted in the neighbour's time)\n",
                    std::string(paper::model_name(kind)).c_str(), "layer", "forward",
                    "backward", use_cpu_time ? "CPU" : "wall", iterations);
        const auto cell = [](bool fused, double ms) {
            char text[32];
            if (fused) {
                std::snprintf(text, sizeof text, "%10s", "fused");
            } else {
                std::snprintf(text, sizeof text, "%10.2f", ms);
            }
            return std::string(text);
        };
        for (std::size_t l = 0; l < layers; ++l) {
            std::printf("%-8s %s %s\n", names[l].c_str(),
                        cell(runs[0].fused_forward[l],
                             median(pick([&](const auto& r) { return r.forward[l]; })))
                            .c_str(),
                        cell(runs[0].fused_backward[l],
                             median(pick([&](const auto& r) { return r.backward[l]; })))
                            .c_str());
        }
        const double step = median(totals);
        const double sgd = median(pick([](const auto& r) { return r.optimizer; }));
        std::printf("loss %.2f ms, optimizer %.2f ms, layer-by-layer step %.1f ms\n",
                    median(pick([](const auto& r) { return r.loss; })), sgd,
                    median(pick([](const auto& r) { return r.total; })));
        std::printf("training step (forward + loss + backward + sgd): %.1f ms median, "
                    "%.1f min\n",
                    step, *std::min_element(totals.begin(), totals.end()));
        const double rss = peak_rss_mib();  // before the floor's own large buffers
        const double floor = print_floor(iterations);
        std::printf("(forward + backward) / bare sgemm: %.2f\n", (step - sgd) / floor);
        std::printf("training step / bare sgemm: %.2f\n", step / floor);
        char json[512];
        std::snprintf(json, sizeof json,
                      "{\"what\": \"step\", \"model\": \"%s\", \"batch\": %zu, \"clock\": "
                      "\"%s\", \"omp_threads\": %d, \"blas_threads\": %d, \"ms_per_step\": "
                      "%.2f, \"sgemm_floor_ms\": %.2f, \"ratio\": %.3f, \"peak_rss_mib\": "
                      "%.1f}",
                      std::string(paper::model_name(kind)).c_str(), batch,
                      use_cpu_time ? "cpu" : "wall", omp_get_max_threads(),
                      openblas_get_num_threads ? openblas_get_num_threads() : 0, step, floor,
                      step / floor, rss);
        return std::string(json);
    });
}

// measure() in a child process, so that the child's peak RSS is that model's alone; the
// JSON line comes back through a pipe. The parent has not started OpenMP or BLAS threads.
std::string measure_in_child(model_kind kind, int iterations) {
    int fds[2];
    if (pipe(fds) != 0) {
        return measure(kind, iterations);
    }
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const std::string line = measure(kind, iterations);
        std::fflush(stdout);
        const bool written = write(fds[1], line.data(), line.size()) == ssize_t(line.size());
        _exit(written ? 0 : 1);
    }
    close(fds[1]);
    std::string line;
    char buffer[256];
    for (ssize_t got; (got = read(fds[0], buffer, sizeof buffer)) > 0;) {
        line.append(buffer, std::size_t(got));
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return line;
}

bool parse_model(std::string_view text, std::vector<model_kind>& models) {
    for (const auto kind : paper::all_models) {
        if (text == "all" || text == paper::model_name(kind)) {
            models.push_back(kind);
        }
    }
    return text == "all" || !models.empty();
}

}  // namespace

int main(int argc, char** argv) {
    examples::use_fast_blas_kernels(argv);
    int iterations = 20;
    std::vector<model_kind> models;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg(argv[i]);
        if (arg == "--cpu") {
            use_cpu_time = true;
        } else if (arg == "--model" && i + 1 < argc) {
            if (!parse_model(argv[++i], models)) {
                std::fprintf(stderr, "step_timing: unknown model \"%s\", expected baseline, "
                                     "p1, p2, p_ste or all\n",
                             argv[i]);
                return 2;
            }
        } else if (std::atoi(argv[i]) > 0) {
            iterations = std::atoi(argv[i]);
        } else {
            std::fprintf(stderr, "usage: step_timing [iterations] [--cpu] "
                                 "[--model baseline|p1|p2|p_ste|all]...\n");
            return 2;
        }
    }
    if (models.empty()) {
        models.push_back(model_kind::baseline);
    }
    // OpenBLAS picks its kernels by CPU model and falls back to a slow generic core for a
    // model it does not know: say which one runs.
    const auto variable = [](const char* name) {
        const char* value = std::getenv(name);
        return value ? value : "(unset)";
    };
    std::printf("OpenBLAS core: %s, OMP_WAIT_POLICY=%s, OPENBLAS_THREAD_TIMEOUT=%s\n",
                openblas_get_corename(), variable("OMP_WAIT_POLICY"),
                variable("OPENBLAS_THREAD_TIMEOUT"));
    std::vector<std::string> lines;
    for (const auto kind : models) {
        lines.push_back(models.size() == 1 ? measure(kind, iterations)
                                           : measure_in_child(kind, iterations));
    }
    std::printf("\n");
    for (const auto& line : lines) {
        std::printf("%s\n", line.c_str());
    }
}
