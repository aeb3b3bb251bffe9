#pragma once

// Settings of one `mnist_paper` run, with the two presets and their validation.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "models.hpp"
#include "poisson/errors.hpp"

namespace paper {

struct run_settings {
    std::vector<model_kind> models{std::begin(all_models), std::end(all_models)};
    std::filesystem::path data;           // folder of IDX files
    std::string preset = "quick";
    std::optional<std::uint64_t> steps;   // default: the preset's
    std::optional<double> learning_rate;  // default: the preset's
    double momentum = 0.9;
    std::size_t batch = 100;
    std::uint64_t seed = 1;
    std::optional<init_kind> init;        // default: the preset's
    noise_settings noise;
    int threads = 0;                      // 0: every core
    std::optional<std::size_t> validation;
    std::uint64_t eval_every = 0;         // 0: 20 evaluations per run
    std::uint64_t log_every = 0;          // 0: 100 progress lines per run
    std::filesystem::path out;            // results.json and curves; empty: none
    std::filesystem::path save;           // checkpoint written at eval points and at the end
    std::filesystem::path resume;         // checkpoint to continue from
};

/// The shortest text that reads back as exactly `value` (`0.9`, not `0.90000000000000002`).
inline std::string exact(double value) {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    return std::string(text, end);
}

/// Fills in what the preset decides and the user did not set.
inline void apply_preset(run_settings& s) {
    if (s.preset == "paper") {
        // The report's section 4: 64,000 steps of batch 100, eta 1e-4, gamma 0.9.
        if (!s.steps) s.steps = 64000;
        if (!s.learning_rate) s.learning_rate = 1e-4;
        if (!s.init) s.init = init_kind::tutorial;
    } else if (s.preset == "quick") {
        // A short schedule for the 8,000 bundled training images: 12 epochs at a 100 times
        // larger step. The tutorial's initialisation diverges at that step once noise is
        // added (the loss reaches 20 within ten steps, then every ReLU dies), He's does not.
        if (!s.steps) s.steps = 1000;
        if (!s.learning_rate) s.learning_rate = 0.01;
        if (!s.init) s.init = init_kind::he;
    } else {
        throw poisson::invalid_argument("mnist_paper: unknown preset \"" + s.preset +
                                        "\", expected quick or paper");
    }
    // At most 20 evaluations, also when the steps are fewer than 20 times anything.
    if (s.eval_every == 0) s.eval_every = std::max<std::uint64_t>(1, (*s.steps + 19) / 20);
    if (s.log_every == 0) s.log_every = std::max<std::uint64_t>(1, *s.steps / 100);
}

/// Refuses settings that cannot train, before any work starts.
inline void validate(const run_settings& s) {
    auto fail = [](const std::string& what) {
        throw poisson::invalid_argument("mnist_paper: " + what);
    };
    if (s.batch == 0) fail("--batch is 0, it must be at least 1");
    if (!(*s.learning_rate > 0) || !std::isfinite(*s.learning_rate)) {
        std::ostringstream out;
        out << "--lr is " << exact(*s.learning_rate) << ", it must be a finite number > 0";
        fail(out.str());
    }
    if (!(s.momentum >= 0 && s.momentum < 1)) fail("--momentum must lie in [0, 1)");
    if (*s.steps == 0) fail("--steps is 0, nothing to train");
    if (s.threads < 0) fail("--threads must be at least 1");
    if (!(s.noise.tau0 > 0) || !(s.noise.tau_min > 0) || !std::isfinite(s.noise.tau0) ||
        !std::isfinite(s.noise.tau_min)) {
        fail("--tau and --tau-min must be finite and > 0");
    }
    if (!(s.noise.k_sigmas >= 0) || !std::isfinite(s.noise.k_sigmas)) {
        fail("--k-sigmas must be finite and >= 0");
    }
    if (!(s.noise.anneal_rate >= 0) || !std::isfinite(s.noise.anneal_rate)) {
        fail("--anneal-rate must be finite and >= 0");
    }
    if (s.noise.anneal_every == 0) fail("--anneal-every must be at least 1");
    if (!s.resume.empty() && s.models.size() != 1) {
        fail("--resume continues one model: give --model too");
    }
    if (!s.save.empty() && s.models.size() != 1) {
        fail("--save holds one model: give --model too");
    }
}

/// The settings a resumed run must share with the run that saved the checkpoint for the two
/// to be one run: everything but the number of steps and where output goes.
inline std::string identity_of(const run_settings& s, model_kind model) {
    std::ostringstream out;
    out << "model=" << model_name(model) << " batch=" << s.batch << " seed=" << s.seed
        << " lr=" << exact(*s.learning_rate) << " momentum=" << exact(s.momentum)
        << " init=" << static_cast<int>(s.init.value_or(init_kind::tutorial))
        << " tau0=" << exact(s.noise.tau0) << " tau_min=" << exact(s.noise.tau_min)
        << " anneal_rate=" << exact(s.noise.anneal_rate)
        << " anneal_every=" << s.noise.anneal_every << " k_sigmas=" << exact(s.noise.k_sigmas)
        << " validation=" << (s.validation ? std::to_string(*s.validation) : "default");
    return out.str();
}

}  // namespace paper
