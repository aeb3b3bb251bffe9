// mnist_paper: trains the report's four networks (Baseline, P_1, P_2, P_STE) on MNIST and
// prints their accuracy beside the report's Table 1.
//
//   mnist_paper                          all four models, quick preset, bundled 10k sample
//   mnist_paper --model p2 --preset paper --data /path/to/mnist
//   mnist_paper --help                   every option
//
// See docs/reproducing.md for a walk through this program.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <omp.h>

#include "common/blas_core.hpp"
#include "common/files.hpp"
#include "paper/models.hpp"
#include "paper/settings.hpp"
#include "paper/trainer.hpp"
#include "poisson/data/mnist.hpp"
#include "poisson/errors.hpp"

extern "C" void openblas_set_num_threads(int threads);

namespace {

using paper::run_settings;

constexpr const char* usage = R"(usage: mnist_paper [options]

Trains the report's networks on MNIST and prints their accuracy beside its Table 1.

  --model NAME       baseline, p1, p2, p_ste or all (default all)
  --data DIR         folder with train-*-idx?-ubyte[.gz] (and t10k-* if any);
                     default: the bundled 10,000-image sample
  --preset NAME      quick (default: 1,000 steps at lr 0.01) or paper (the report's
                     64,000 steps at lr 1e-4)
  --steps N          training steps (overrides the preset)
  --lr X             learning rate eta in v = gamma v + eta grad (overrides the preset)
  --momentum X       gamma (default 0.9)
  --batch N          images per step (default 100)
  --seed N           seeds weights, batches, dropout and noise (default 1)
  --init NAME        tutorial (truncated normal 0.1, biases 0.1), he or glorot
                     (default: he for quick, tutorial for paper)
  --tau X            temperature of the Gumbel noise at step 0 (default 1)
  --tau-min X        floor of the annealed temperature (default: --tau, no annealing)
  --anneal-rate R    tau = max(tau_min, tau exp(-R t)) (default 0)
  --anneal-every N   steps between temperature updates (default 1000)
  --k-sigmas C       k = ceil(m + C sqrt(m)) with m the batch's largest rate (default 4)
  --validation N     validation images held out of the training set
  --eval-every N     steps between validation passes (default or 0: at most 20 per run)
  --log-every N      steps between progress lines (default or 0: 100 per run); every
                     validation pass prints a progress line too
  --threads N        OpenMP and OpenBLAS threads (default or 0: every core)
  --out DIR          write results.json, curve_<model>.csv and curve_<model>.png there
  --save FILE        checkpoint at every validation pass and at the end (one model)
  --resume FILE      continue a run from its checkpoint, to a total of --steps; the model
                     is the checkpoint's unless --model names it, the other settings
                     must be the saved run's
)";

[[noreturn]] void usage_error(const std::string& message) {
    std::fflush(stdout);  // what was printed before the error stays before it in a pipe
    std::fprintf(stderr, "mnist_paper: %s\n(run mnist_paper --help for the options)\n",
                 message.c_str());
    std::exit(2);
}

template <class T>
T parse_number(std::string_view flag, const std::string& text) {
    std::istringstream in(text);
    T value{};
    if (!(in >> value) || !in.eof()) {
        // The stream also fails on a number beyond the type's range: say which it was.
        const bool all_digits =
            !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        usage_error(std::string(flag) +
                    (all_digits ? " is out of range: \"" : " expects a number, got \"") + text +
                    "\"");
    }
    if constexpr (std::is_unsigned_v<T>) {
        if (text.starts_with("-")) usage_error(std::string(flag) + " cannot be negative");
    }
    return value;
}

std::vector<paper::model_kind> parse_models(const std::string& text) {
    if (text == "all") return {std::begin(paper::all_models), std::end(paper::all_models)};
    for (auto kind : paper::all_models) {
        if (paper::model_name(kind) == text) return {kind};
    }
    usage_error("unknown model \"" + text + "\", expected baseline, p1, p2, p_ste or all");
}

paper::init_kind parse_init(const std::string& text) {
    if (text == "tutorial") return paper::init_kind::tutorial;
    if (text == "he") return paper::init_kind::he;
    if (text == "glorot") return paper::init_kind::glorot;
    usage_error("unknown --init \"" + text + "\", expected tutorial, he or glorot");
}

bool known_flag(std::string_view flag) {
    static constexpr std::string_view flags[] = {
        "--model", "--data", "--preset", "--steps", "--lr", "--momentum", "--batch", "--seed",
        "--init", "--tau", "--tau-min", "--anneal-rate", "--anneal-every", "--k-sigmas",
        "--validation", "--eval-every", "--log-every", "--threads", "--out", "--save",
        "--resume"};
    return std::find(std::begin(flags), std::end(flags), flag) != std::end(flags);
}

run_settings parse_arguments(int argc, char** argv) {
    run_settings s;
    s.data = POISSON_BUNDLED_MNIST;
    bool tau_min_given = false;
    bool model_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (!known_flag(flag)) usage_error("unknown option " + std::string(flag));
        if (i + 1 >= argc) usage_error(std::string(flag) + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--model") {
            s.models = parse_models(value);
            model_given = true;
        } else if (flag == "--data") s.data = value;
        else if (flag == "--preset") s.preset = value;
        else if (flag == "--steps") s.steps = parse_number<std::uint64_t>(flag, value);
        else if (flag == "--lr") s.learning_rate = parse_number<double>(flag, value);
        else if (flag == "--momentum") s.momentum = parse_number<double>(flag, value);
        else if (flag == "--batch") s.batch = parse_number<std::size_t>(flag, value);
        else if (flag == "--seed") s.seed = parse_number<std::uint64_t>(flag, value);
        else if (flag == "--init") s.init = parse_init(value);
        else if (flag == "--tau") s.noise.tau0 = parse_number<double>(flag, value);
        else if (flag == "--tau-min") {
            s.noise.tau_min = parse_number<double>(flag, value);
            tau_min_given = true;
        } else if (flag == "--anneal-rate") {
            s.noise.anneal_rate = parse_number<double>(flag, value);
        } else if (flag == "--anneal-every") {
            s.noise.anneal_every = parse_number<std::uint64_t>(flag, value);
        } else if (flag == "--k-sigmas") s.noise.k_sigmas = parse_number<double>(flag, value);
        else if (flag == "--validation") s.validation = parse_number<std::size_t>(flag, value);
        else if (flag == "--eval-every") s.eval_every = parse_number<std::uint64_t>(flag, value);
        else if (flag == "--log-every") s.log_every = parse_number<std::uint64_t>(flag, value);
        else if (flag == "--threads") s.threads = parse_number<int>(flag, value);
        else if (flag == "--out") s.out = value;
        else if (flag == "--save") s.save = value;
        else if (flag == "--resume") s.resume = value;
        else usage_error("unknown option " + std::string(flag));
    }
    if (!tau_min_given) s.noise.tau_min = s.noise.tau0;
    // A resumed run continues the checkpoint's model unless told which.
    if (!s.resume.empty() && !model_given) s.models = {paper::checkpoint_model(s.resume)};
    return s;
}

void use_threads(int threads) {
    if (threads == 0) threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

std::string settings_json(const run_settings& s) {
    std::ostringstream out;
    out << "{\"preset\": \"" << s.preset << "\", \"data\": \"" << s.data.string()
        << "\", \"steps\": " << *s.steps << ", \"learning_rate\": " << *s.learning_rate
        << ", \"momentum\": " << s.momentum << ", \"batch\": " << s.batch
        << ", \"seed\": " << s.seed << ", \"tau\": " << s.noise.tau0
        << ", \"tau_min\": " << s.noise.tau_min << ", \"anneal_rate\": " << s.noise.anneal_rate
        << ", \"anneal_every\": " << s.noise.anneal_every
        << ", \"k_sigmas\": " << s.noise.k_sigmas << ", \"threads\": " << omp_get_max_threads()
        << "}";
    return out.str();
}

void write_results(const run_settings& s, const paper::mnist_splits_sizes& sizes,
                   const std::vector<paper::model_result>& results) {
    std::ostringstream json;
    json << "{\n  \"settings\": " << settings_json(s) << ",\n  \"images\": {\"train\": "
         << sizes.train << ", \"validation\": " << sizes.validation << ", \"test\": "
         << sizes.test << "},\n  \"models\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        json << "    {\"model\": \"" << paper::model_name(r.model)
             << "\", \"validation_accuracy\": " << r.validation_accuracy
             << ", \"test_accuracy\": " << r.test_accuracy
             << ", \"report_test_accuracy\": " << paper::report_accuracy(r.model)
             << ", \"steps\": " << r.steps << ", \"seconds\": " << r.seconds
             << ", \"images_per_second\": " << r.images_per_second << "}"
             << (i + 1 < results.size() ? "," : "") << "\n";
    }
    json << "  ]\n}\n";
    std::filesystem::create_directories(s.out);
    examples::write_text_file(s.out / "results.json", json.str());
}

void print_table(const std::vector<paper::model_result>& results) {
    std::printf("\n%-9s %12s %10s %14s %9s %9s\n", "model", "validation", "test",
                "report (test)", "time", "img/s");
    for (const auto& r : results) {
        std::printf("%-9s %11.2f%% %9.2f%% %13.1f%% %9s %9.0f\n",
                    std::string(paper::model_name(r.model)).c_str(), r.validation_accuracy,
                    r.test_accuracy, paper::report_accuracy(r.model),
                    paper::duration_text(r.seconds).c_str(), r.images_per_second);
    }
}

// The folders of --out and --save, made before any training, so that a path that cannot be
// written fails at once instead of after the first model.
void create_output_folders(const run_settings& s) {
    const auto create = [](std::string_view flag, const std::filesystem::path& folder) {
        std::error_code error;
        std::filesystem::create_directories(folder, error);
        if (error) {
            throw std::runtime_error("mnist_paper: cannot create the " + std::string(flag) +
                                     " folder " + folder.string() + ": " + error.message());
        }
    };
    if (!s.out.empty()) create("--out", s.out);
    if (!s.save.empty() && s.save.has_parent_path()) create("--save", s.save.parent_path());
}

int run(int argc, char** argv) {
    run_settings s = parse_arguments(argc, argv);
    try {
        paper::apply_preset(s);
        paper::validate(s);
    } catch (const poisson::invalid_argument& error) {
        usage_error(std::string(error.what()).substr(std::string_view("mnist_paper: ").size()));
    }
    use_threads(s.threads);
    create_output_folders(s);

    poisson::data::mnist_options options;
    options.validation_count = s.validation;
    const auto data = poisson::data::load_mnist(s.data, options);
    const paper::mnist_splits_sizes sizes{data.train.size(), data.validation.size(),
                                          data.test.size()};
    std::printf("mnist_paper: %zu training, %zu validation, %zu test images from %s\n",
                sizes.train, sizes.validation, sizes.test, s.data.c_str());
    std::printf("mnist_paper: preset %s, %llu steps of %zu, lr %g, momentum %g, %d threads\n",
                s.preset.c_str(), static_cast<unsigned long long>(*s.steps), s.batch,
                *s.learning_rate, s.momentum, omp_get_max_threads());

    std::vector<paper::model_result> results;
    for (auto kind : s.models) {
        results.push_back(paper::with_model(kind, s.seed, *s.init, s.noise, [&](auto& net) {
            return paper::train(net, kind, data, s);
        }));
        if (!s.out.empty()) write_results(s, sizes, results);
    }
    print_table(results);
    if (!s.out.empty()) std::printf("\nresults in %s\n", (s.out / "results.json").c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    examples::use_fast_blas_kernels(argv);
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s\n", error.what());
        return 1;
    }
}
