#pragma once

// The learning curve of one run: a CSV row per progress line with the loss, the accuracies,
// the speed and, for every noise layer, the diagnostics of its last pass; and its plots.

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "../common/files.hpp"
#include "poisson/noise_layer.hpp"

namespace paper {

inline std::string percent_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f%%", value);
    return text;
}

/// Mean loss and accuracy over the steps since the last progress line.
struct running_mean {
    double loss_sum = 0;
    std::size_t correct = 0;
    std::size_t seen = 0;
    std::size_t steps = 0;

    void add(double loss, std::size_t right, std::size_t batch) {
        loss_sum += loss;
        correct += right;
        seen += batch;
        ++steps;
    }
    double loss() const { return steps ? loss_sum / double(steps) : 0.0; }
    double accuracy() const { return seen ? 100.0 * double(correct) / double(seen) : 0.0; }
};

template <class L>
concept reports_noise = requires(const L& layer) {
    layer.diagnostics().truncated_mass;
    layer.options().name;
};

class learning_curve {
public:
    template <class Net>
    explicit learning_curve(Net& net) {
        m_header = "step,loss,train_accuracy,validation_accuracy,images_per_s,seconds";
        net.for_each_layer([&](std::size_t, auto& layer) {
            using layer_type = std::remove_cvref_t<decltype(layer)>;
            if constexpr (reports_noise<layer_type>) {
                const std::string& n = layer.options().name;
                // Untruncated estimators have no k, no truncated mass and no top count:
                // their columns stay in the CSV (as zeros) but not in the plots.
                if (layer_type::estimator_type::truncates) {
                    m_plotted_layers.push_back({n, 7 + m_noise_column_count});
                }
                m_noise_column_count += std::size(noise_columns);
                for (const char* column : noise_columns) m_header += "," + n + "_" + column;
            }
        });
    }

    template <class Net>
    void add(Net& net, std::uint64_t step, const running_mean& interval, double validation,
             double images_per_s, double seconds) {
        std::ostringstream row;
        row.precision(6);
        row << step << ',' << interval.loss() << ',' << interval.accuracy() << ',';
        if (validation >= 0) row << validation;
        row << ',' << images_per_s << ',' << seconds;
        net.for_each_layer([&](std::size_t, auto& layer) {
            if constexpr (reports_noise<std::remove_cvref_t<decltype(layer)>>) {
                const auto& d = layer.diagnostics();
                row << ',' << d.k << ',' << d.temperature << ',' << d.max_rate << ','
                    << d.truncated_mass << ',' << d.top_category_share << ','
                    << d.mean_relaxation_gap;
            }
        });
        m_rows.push_back(row.str());
    }

    std::string csv() const {
        std::string text = m_header + "\n";
        for (const auto& row : m_rows) text += row + "\n";
        return text;
    }

    /// Takes back the rows of a checkpoint, so a resumed run's curve is the whole run's.
    void restore(const std::string& text) {
        std::istringstream in(text);
        std::string line;
        std::getline(in, line);
        if (line != m_header) {
            throw poisson::invalid_argument("mnist_paper: the checkpoint's learning curve has "
                                            "other columns than this model's");
        }
        m_rows.clear();
        while (std::getline(in, line)) m_rows.push_back(line);
    }

    /// Writes `curve_<name>.csv` and, where gnuplot is installed, `curve_<name>.png`.
    void write(const std::filesystem::path& folder, const std::string& name) const {
        std::filesystem::create_directories(folder);
        examples::write_text_file(folder / ("curve_" + name + ".csv"), csv());
        if (!examples::have_gnuplot()) return;
        const auto script = folder / ("curve_" + name + ".gp");
        const auto png = folder / ("curve_" + name + ".png");
        const auto temp = folder / ("curve_" + name + ".png.tmp");
        examples::write_text_file(script, plot_script(name, folder / ("curve_" + name + ".csv"),
                                                      temp));
        if (!examples::render_png(script, temp, png)) {
            std::fprintf(stderr, "mnist_paper: gnuplot could not draw %s\n", png.c_str());
        }
    }

private:
    static constexpr const char* noise_columns[] = {"k", "tau", "max_rate", "truncated_mass",
                                                    "top_share", "hard_soft_gap"};

    std::string plot_script(const std::string& name, const std::filesystem::path& csv_path,
                            const std::filesystem::path& png) const {
        const std::size_t panels = m_plotted_layers.empty() ? 2 : 4;
        std::ostringstream gp;
        gp << "set terminal pngcairo size 1200," << 300 * panels << " font 'sans,10'\n"
           << "set output '" << png.string() << "'\n"
           << "set datafile separator ','\nset key outside right top Left reverse\nset grid\n"
           // Fixed margins line the panels up whatever the width of their legends.
           << "set lmargin at screen 0.07\nset rmargin at screen 0.72\n"
           << "set termoption noenhanced\n"
           << "set multiplot layout " << panels << ",1 title 'mnist_paper: " << name << "'\n"
           << "set xlabel 'step'\n"
           << "set ylabel 'loss'\nplot '" << csv_path.string()
           << "' using 1:2 with lines lw 2 title 'training loss'\n"
           << "set ylabel 'accuracy (%)'\nplot '" << csv_path.string()
           << "' using 1:3 with lines title 'training', '' using 1:($4 > 0 ? $4 : 1/0) "
              "with linespoints pt 7 title 'validation'\n";
        if (!m_plotted_layers.empty()) {
            // A colour per quantity, a dash pattern per layer.
            gp << "set ylabel 'k and largest rate'\nplot ";
            for (std::size_t i = 0; i < m_plotted_layers.size(); ++i) {
                const auto& [layer, c] = m_plotted_layers[i];  // c: the layer's first column
                const std::string style = " with lines dt " + std::to_string(i + 1) + " lw 2";
                gp << (i ? ", " : "") << "'" << csv_path.string() << "' using 1:" << c << style
                   << " lc 'dark-violet' title '" << layer << " k', '' using 1:" << c + 2
                   << style << " lc 'dark-orange' title '" << layer << " max rate'";
            }
            // Shares of exactly 0 have no place on a log scale: 1/0 leaves them out.
            gp << "\nset ylabel 'share'\nset logscale y\nset format y '%g'\nplot ";
            for (std::size_t i = 0; i < m_plotted_layers.size(); ++i) {
                const auto& [layer, c] = m_plotted_layers[i];
                const std::string style = " with lines dt " + std::to_string(i + 1) + " lw 2";
                const auto positive = [](std::size_t column) {
                    const std::string v = "$" + std::to_string(column);
                    return "(" + v + " > 0 ? " + v + " : 1/0)";
                };
                gp << (i ? ", " : "") << "'" << csv_path.string() << "' using 1:"
                   << positive(c + 3) << style << " lc 'dark-red' title '" << layer
                   << " P(X>k) at max rate', '' using 1:" << positive(c + 4) << style
                   << " lc 'dark-green' title '" << layer << " samples at k (0: not drawn)'"
                   << ", '' using 1:" << positive(c + 5) << style << " lc 'blue' title '"
                   << layer << " mean |hard - soft|'";
            }
            gp << "\nunset logscale y\nset format y\n";
        }
        gp << "unset multiplot\n";
        return gp.str();
    }

    struct plotted_layer {
        std::string name;
        std::size_t first_column;  // 1-based, as gnuplot counts
    };

    std::string m_header;
    std::vector<plotted_layer> m_plotted_layers;
    std::size_t m_noise_column_count = 0;
    std::vector<std::string> m_rows;
};

}  // namespace paper
