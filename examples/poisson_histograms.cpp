// poisson_histograms: the report's Figure 1, redrawn and extended.
//
// For a few (rate, k) pairs it compares normalised histograms of exact Poisson samples, of the
// library's hard Gumbel-max samples and of its relaxed samples at three temperatures with the
// exact pmf. The first panel is the report's pair (rate 5, k 7); the others take k from the two
// k rules of the library, as if the batch's largest rate were the panel's rate.
//
// Output, in --out DIR: one CSV per panel, a gnuplot script and, when gnuplot is installed, the
// PNG it draws. A table of total variation distances goes to stdout.
//
//   poisson_histograms [--samples N] [--seed S] [--out DIR]

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "poisson/errors.hpp"
#include "poisson/estimator/concepts.hpp"
#include "poisson/estimator/relaxed_gumbel.hpp"
#include "poisson/estimator/straight_through_gumbel.hpp"
#include "poisson/io/atomic_file.hpp"
#include "poisson/k_rule/batch_max.hpp"
#include "poisson/k_rule/fixed_k.hpp"
#include "poisson/k_rule/tail_bound.hpp"
#include "poisson/math/poisson_pmf.hpp"
#include "poisson/random/philox.hpp"
#include "poisson/random/poisson_sampler.hpp"

namespace fs = std::filesystem;

namespace {

// The noise layer's default value type, so the samples are the ones a default layer draws.
using real = float;

constexpr std::array<double, 3> soft_taus{0.1, 0.5, 1.0};
constexpr std::array<const char*, 3> soft_tau_labels{"0.1", "0.5", "1"};
// Philox elements are 32-bit: one element per sample.
constexpr std::uint64_t max_samples = 4294967295u;
constexpr const char* script_name = "figure1.gp";
constexpr const char* png_name = "figure1.png";

// ---------------------------------------------------------------------------------------------
// Command line

struct options {
    std::uint64_t samples = 100000;
    std::uint64_t seed = 1;
    fs::path out = "figure1";
    bool help = false;
};

/// A bad command line: reported with a hint to --help and exit code 2.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

constexpr const char* usage_text =
    "usage: poisson_histograms [--samples N] [--seed S] [--out DIR] [--help]\n"
    "\n"
    "Redraws Figure 1 of the Poisson-noise report: normalised histograms of exact Poisson\n"
    "samples, of hard (straight_through_gumbel) and soft (relaxed_gumbel, tau 0.1, 0.5, 1)\n"
    "samples and the exact pmf, for rate 5 with k 7 and for rates 1, 5, 20 with k from\n"
    "batch_max (c = 4) and tail_bound (eps = 1e-6).\n"
    "\n"
    "  --samples N  samples per series, 1 to 4294967295 (default 100000)\n"
    "  --seed S     Philox seed, an unsigned 64-bit integer (default 1)\n"
    "  --out DIR    folder for the CSVs, the gnuplot script and the PNG (default figure1)\n"
    "  --help       print this text\n"
    "\n"
    "Exit status: 0 on success, 1 if a file cannot be written or gnuplot fails, 2 on a bad\n"
    "command line.\n";

std::uint64_t parse_unsigned(std::string_view flag, std::string_view text, std::uint64_t lo,
                             std::uint64_t hi) {
    const std::string what = std::string(flag) + " expects an integer from " + std::to_string(lo) +
                             " to " + std::to_string(hi) + ", got \"" + std::string(text) + "\"";
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, err] = std::from_chars(text.data(), end, value);
    // from_chars accepts no sign, so "-5" and "+5" fail here along with "5x" and "".
    if (err != std::errc{} || stop != end || value < lo || value > hi) {
        throw usage_error(what);
    }
    return value;
}

/// Splits "--flag=value" or takes the value from the next argument.
std::string_view flag_value(std::string_view flag, std::optional<std::string_view> inline_value,
                            int& i, int argc, char** argv) {
    if (inline_value) {
        return *inline_value;
    }
    if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--")) {
        throw usage_error(std::string(flag) + " needs a value");
    }
    return argv[++i];
}

options parse_options(int argc, char** argv) {
    options opts;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::optional<std::string_view> inline_value;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != arg.npos) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        if (arg == "--help" || arg == "-h") {
            opts.help = true;
        } else if (arg == "--samples") {
            const auto v = flag_value(arg, inline_value, i, argc, argv);
            opts.samples = parse_unsigned(arg, v, 1, max_samples);
        } else if (arg == "--seed") {
            const auto v = flag_value(arg, inline_value, i, argc, argv);
            opts.seed = parse_unsigned(arg, v, 0, std::numeric_limits<std::uint64_t>::max());
        } else if (arg == "--out") {
            opts.out = std::string(flag_value(arg, inline_value, i, argc, argv));
            if (opts.out.empty()) throw usage_error("--out needs a non-empty folder name");
        } else {
            throw usage_error("unknown argument \"" + std::string(argv[i]) + "\"");
        }
    }
    return opts;
}

// ---------------------------------------------------------------------------------------------
// Panels and sampling

struct panel {
    double rate;
    std::size_t k;
    std::string rule;   // for the table, e.g. "batch_max c=4"
    std::string title;  // for the plot
    std::string file;   // CSV name
};

panel make_panel(double rate, std::size_t k, std::string rule, std::string file_rule) {
    std::ostringstream title;
    title << "rate " << rate << ", k " << k << " (" << rule << ")";
    std::ostringstream file;
    file << file_rule << "_rate" << rate << ".csv";
    return {rate, k, std::move(rule), title.str(), file.str()};
}

/// The report's pair first, then one row per k rule over the same three rates.
std::vector<panel> make_panels() {
    std::vector<panel> panels;
    panels.push_back(make_panel(5.0, poisson::fixed_k(7).select_k(5.0), "fixed", "fixed"));
    const poisson::batch_max by_max(4.0);
    const poisson::tail_bound by_tail(1e-6);
    for (double rate : {1.0, 5.0, 20.0}) {
        panels.push_back(make_panel(rate, by_max.select_k(rate), "batch_max c=4", "batch_max"));
    }
    for (double rate : {1.0, 5.0, 20.0}) {
        panels.push_back(make_panel(rate, by_tail.select_k(rate), "tail_bound 1e-6", "tail_bound"));
    }
    return panels;
}

/// Counts of the integers 0, 1, 2, ...; grows as larger counts arrive.
using histogram = std::vector<std::uint64_t>;

void add_count(histogram& h, std::size_t bin) {
    if (bin >= h.size()) h.resize(bin + 1, 0);
    ++h[bin];
}

/// Each series of each panel reads its own Philox stream id, so no two share uniforms.
poisson::philox series_rng(std::uint64_t seed, std::size_t panel_index, std::size_t series) {
    return poisson::philox(seed, static_cast<std::uint32_t>(8 * panel_index + series));
}

histogram sample_exact(real rate, const poisson::philox& rng, std::uint64_t n) {
    histogram h;
    for (std::uint64_t i = 0; i < n; ++i) {
        auto stream = rng.stream({0, i});
        add_count(h, static_cast<std::size_t>(poisson::sample_poisson(rate, stream)));
    }
    return h;
}

/// Samples through the estimator exactly as the noise layer does for one element; relaxed
/// values in [0, k] go to the nearest integer.
template <poisson::gradient_estimator Estimator>
histogram sample_estimator(const Estimator& estimator, real rate, std::size_t k, real tau,
                           const poisson::philox& rng, std::uint64_t n) {
    std::vector<real> scratch(2 * (k + 1));
    const poisson::noise_context<real> context{k, tau, scratch};
    histogram h(k + 1, 0);
    for (std::uint64_t i = 0; i < n; ++i) {
        auto stream = rng.stream({0, i});
        const auto s = estimator.sample(rate, context, stream);
        add_count(h, static_cast<std::size_t>(std::lround(s.value)));
    }
    return h;
}

struct panel_result {
    panel spec;
    histogram exact;
    histogram hard;
    std::array<histogram, soft_taus.size()> soft;
};

panel_result run_panel(const panel& p, std::size_t index, const options& opts) {
    const auto rate = static_cast<real>(p.rate);
    panel_result r{p, {}, {}, {}};
    r.exact = sample_exact(rate, series_rng(opts.seed, index, 0), opts.samples);
    // The hard count does not depend on tau; 1 is as good as any.
    r.hard = sample_estimator(poisson::straight_through_gumbel{}, rate, p.k, real(1),
                              series_rng(opts.seed, index, 1), opts.samples);
    for (std::size_t t = 0; t < soft_taus.size(); ++t) {
        r.soft[t] = sample_estimator(poisson::relaxed_gumbel{}, rate, p.k, real(soft_taus[t]),
                                     series_rng(opts.seed, index, 2 + t), opts.samples);
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// Distances

/// Counts 0..rows-1 of the CSV: every count any series drew, and at least 0..k.
std::size_t row_count(const panel_result& r) {
    std::size_t rows = std::max(r.spec.k + 1, r.exact.size());
    rows = std::max(rows, r.hard.size());
    for (const auto& h : r.soft) rows = std::max(rows, h.size());
    return rows;
}

std::vector<double> frequencies(const histogram& h, std::uint64_t n, std::size_t rows) {
    std::vector<double> f(rows, 0.0);
    for (std::size_t i = 0; i < h.size(); ++i) f[i] = double(h[i]) / double(n);
    return f;
}

std::vector<double> exact_pmf(double rate, std::size_t rows) {
    std::vector<double> p(rows);
    for (std::size_t i = 0; i < rows; ++i) p[i] = std::exp(poisson::poisson_log_pmf(i, rate));
    return p;
}

/// `P(X = i | X <= k)`: what the Gumbel-max count samples exactly.
std::vector<double> truncated_pmf(double rate, std::size_t k, std::size_t rows) {
    std::vector<double> p = exact_pmf(rate, rows);
    const double kept = 1.0 - poisson::poisson_upper_tail(k, rate);
    for (std::size_t i = 0; i < rows; ++i) p[i] = i <= k ? p[i] / kept : 0.0;
    return p;
}

/// Total variation distance from `q` (all its mass on counts below q.size()) to the
/// untruncated Poisson(rate); the pmf's mass beyond the rows counts in full.
double tv_to_poisson(const std::vector<double>& q, double rate) {
    const std::vector<double> p = exact_pmf(rate, q.size());
    double sum = q.empty() ? 1.0 : poisson::poisson_upper_tail(q.size() - 1, rate);
    for (std::size_t i = 0; i < q.size(); ++i) sum += std::abs(q[i] - p[i]);
    return 0.5 * sum;
}

double tv_of_samples(const panel_result& r, const histogram& h, std::uint64_t n) {
    return tv_to_poisson(frequencies(h, n, row_count(r)), r.spec.rate);
}

// ---------------------------------------------------------------------------------------------
// Files

std::string csv_text(const panel_result& r, std::uint64_t n) {
    const std::size_t rows = row_count(r);
    const auto pmf = exact_pmf(r.spec.rate, rows);
    const auto exact = frequencies(r.exact, n, rows);
    const auto hard = frequencies(r.hard, n, rows);
    std::vector<std::vector<double>> soft;
    for (const auto& h : r.soft) soft.push_back(frequencies(h, n, rows));

    std::ostringstream out;
    out.precision(8);
    out << "count,exact_pmf,poisson_samples,hard";
    for (const char* tau : soft_tau_labels) out << ",soft_tau_" << tau;
    out << '\n';
    for (std::size_t i = 0; i < rows; ++i) {
        out << i << ',' << pmf[i] << ',' << exact[i] << ',' << hard[i];
        for (const auto& s : soft) out << ',' << s[i];
        out << '\n';
    }
    return out.str();
}

/// Written to a temporary name and renamed, so a crash never leaves half a file.
void write_text(const fs::path& path, const std::string& text) {
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    poisson::io::write_file_atomically(path, {bytes, text.size()}, "poisson_histograms");
}

// ---------------------------------------------------------------------------------------------
// The gnuplot script

// Okabe-Ito colours, told apart by colour-blind readers too.
constexpr const char* plot_styles = R"gp(
set style line 1 lc rgb "#b8b8b8" lw 1
set style line 2 lc rgb "#0072b2" lw 3
set style line 3 lc rgb "#e69f00" lw 2 dt 1
set style line 4 lc rgb "#009e73" lw 2 dt 2
set style line 5 lc rgb "#d55e00" lw 2 dt 4
set style line 6 lc rgb "#000000" pt 7 ps 0.9
set style fill solid 1.0 noborder
set style line 7 lc rgb "#333333" lw 2 dt 3
)gp";

constexpr const char* script_header = R"gp(
# Draws figure1.png from the CSVs next to this script; run it from this folder:
#   gnuplot figure1.gp
# poisson_histograms passes -e "outfile='<temporary name>'" and renames the result.
if (!exists("outfile")) outfile = "figure1.png"
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1800,1650 font "sans,12" noenhanced
} else {
    set terminal png size 1800,1650 noenhanced
}
set output outfile
set datafile separator ","
)gp";

/// One panel at the given grid cell (row 0 at the top, below the figure's title).
std::string panel_commands(const panel_result& r, std::size_t row, std::size_t col) {
    // Room right of the truncation line for its label.
    const std::size_t room = r.spec.k + 2 + r.spec.k / 10;
    const double x_max = double(std::max(row_count(r), room)) - 0.5;
    const double edge = double(r.spec.k) + 0.5;
    std::ostringstream s;
    s << "\n# " << r.spec.title << "\n"
      << "set origin " << col / 3.0 << "," << 0.955 - (row + 1) * 0.318 << "\n"
      << "set size 0.333,0.318\n"
      << "set title \"" << r.spec.title << "\"\n"
      << "set xrange [-0.5:" << x_max << "]\nset yrange [0:*]\n"
      << "set arrow 1 from " << edge << ",graph 0 to " << edge << ",graph 1 nohead ls 7\n"
      << "set label 1 \"k = " << r.spec.k << "\" at " << edge << ",graph 0.93 offset 0.6,0\n"
      << "plot \"" << r.spec.file << "\" skip 1 using 1:3 with boxes ls 1 notitle, \\\n"
      << "  \"\" skip 1 using 1:5 with histeps ls 3 notitle, \\\n"
      << "  \"\" skip 1 using 1:6 with histeps ls 4 notitle, \\\n"
      << "  \"\" skip 1 using 1:7 with histeps ls 5 notitle, \\\n"
      << "  \"\" skip 1 using 1:4 with histeps ls 2 notitle, \\\n"
      << "  \"\" skip 1 using 1:2 with points ls 6 notitle\n";
    return s.str();
}

/// The legend, in the two cells right of the report's panel: one key for every panel.
std::string legend_commands() {
    return R"gp(
# Legend: the same styles on empty data.
set origin 0.36,0.64
set size 0.62,0.31
unset title
unset arrow
unset label
unset border
unset tics
unset xlabel
unset ylabel
set xrange [0:1]
set yrange [0:1]
set key at graph 0.5,graph 0.62 center box Left reverse width 1 height 1 spacing 1.5 font ",14"
set label 1 "Top left: the report's pair. Rows 2 and 3: k from batch_max (c = 4) and from" \
  at graph 0.5,graph 0.12 center font ",13"
set label 2 "tail_bound (eps = 1e-6), as if the batch's largest rate were the panel's rate." \
  at graph 0.5,graph 0.04 center font ",13"
plot NaN with boxes ls 1 title "exact Poisson samples (sample_poisson)", \
  NaN with lines ls 2 title "hard samples (straight_through_gumbel)", \
  NaN with lines ls 3 title "soft samples, tau = 0.1 (relaxed_gumbel, rounded)", \
  NaN with lines ls 4 title "soft samples, tau = 0.5", \
  NaN with lines ls 5 title "soft samples, tau = 1", \
  NaN with points ls 6 title "exact Poisson pmf", \
  NaN with lines ls 7 title "truncation: counts kept are 0..k"
)gp";
}

std::string gnuplot_script(const std::vector<panel_result>& results, const options& opts) {
    std::ostringstream s;
    s << script_header << plot_styles
      << "set multiplot title \"Poisson samples and their Gumbel-Softmax approximation: "
      << "normalised histograms, " << opts.samples << " samples per series (seed " << opts.seed
      << ")\" font \",16\"\n"
      << "set title font \",13\"\n"
      << "set key off\nset border 3\nset tics nomirror\nset grid ytics lc rgb \"#e0e0e0\"\n"
      << "set xlabel \"count\"\nset ylabel \"probability\"\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        // Row 0 holds the report's panel; rows 1 and 2 one k rule each.
        const std::size_t row = i == 0 ? 0 : 1 + (i - 1) / 3;
        const std::size_t col = i == 0 ? 0 : (i - 1) % 3;
        s << panel_commands(results[i], row, col);
    }
    s << legend_commands() << "unset multiplot\nset output\n";
    return s.str();
}

// ---------------------------------------------------------------------------------------------
// Running gnuplot

std::optional<fs::path> find_in_path(std::string_view program) {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "";
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        const std::string_view dir = dirs.substr(0, colon);
        dirs = colon == dirs.npos ? std::string_view{} : dirs.substr(colon + 1);
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

/// Runs `gnuplot -e "outfile='<png_temp>'" figure1.gp` inside `dir`, without a shell, so no
/// folder name needs quoting. Returns true if gnuplot exited with status 0.
bool run_gnuplot(const fs::path& gnuplot, const fs::path& dir, const std::string& png_temp) {
    const std::string define = "outfile='" + png_temp + "'";
    const pid_t child = ::fork();
    if (child < 0) {
        throw poisson::io_error("poisson_histograms: cannot start gnuplot: " +
                                std::string(std::strerror(errno)));
    }
    if (child == 0) {
        if (::chdir(dir.c_str()) == 0) {
            const char* args[] = {"gnuplot", "-e", define.c_str(), script_name, nullptr};
            ::execv(gnuplot.c_str(), const_cast<char* const*>(args));
        }
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
        throw poisson::io_error("poisson_histograms: cannot read " + path.string());
    }
    return bytes;
}

/// gnuplot writes the PNG under a temporary name; only a finished, non-empty PNG is moved to
/// `figure1.png`, through the same fsync-and-rename as the CSVs.
bool draw_png(const fs::path& gnuplot, const fs::path& dir) {
    const std::string temp = ".figure1.png.tmp-" + std::to_string(::getpid());
    const bool ok = run_gnuplot(gnuplot, dir, temp);
    std::error_code ec;
    const bool made = ok && fs::file_size(dir / temp, ec) > 0 && !ec;
    if (made) {
        // Read before writing: the save removes stale `.figure1.png.tmp-*` files, this one too.
        const std::string png = read_bytes(dir / temp);
        write_text(dir / png_name, png);
    }
    fs::remove(dir / temp, ec);
    return made;
}

// ---------------------------------------------------------------------------------------------
// The table

void print_table(const std::vector<panel_result>& results, std::uint64_t n) {
    std::printf("%5s %4s  %-16s %10s | %8s %8s %9s", "rate", "k", "rule", "P(X > k)", "poisson",
                "hard", "trunc pmf");
    for (const char* tau : soft_tau_labels) {
        std::printf("  %8s", ("soft " + std::string(tau)).c_str());
    }
    std::printf("\n");
    for (const auto& r : results) {
        const auto rows = row_count(r);
        std::printf("%5g %4zu  %-16s %10.3g | %8.4f %8.4f %9.4f", r.spec.rate, r.spec.k,
                    r.spec.rule.c_str(), poisson::poisson_upper_tail(r.spec.k, r.spec.rate),
                    tv_of_samples(r, r.exact, n), tv_of_samples(r, r.hard, n),
                    tv_to_poisson(truncated_pmf(r.spec.rate, r.spec.k, rows), r.spec.rate));
        for (const auto& h : r.soft) std::printf("  %8.4f", tv_of_samples(r, h, n));
        std::printf("\n");
    }
    std::printf(
        "\nRight of '|': total variation distance to the untruncated Poisson pmf, of\n"
        "  poisson    exact samples (sample_poisson): the sampling noise alone\n"
        "  hard       straight_through_gumbel counts\n"
        "  trunc pmf  the exact truncated, renormalised pmf, the sampling-free value 'hard'\n"
        "             tends to (it equals P(X > k))\n"
        "  soft tau   relaxed_gumbel values rounded to the nearest count\n");
}

// ---------------------------------------------------------------------------------------------

int run(const options& opts) {
    fs::create_directories(opts.out);
    const std::vector<panel> panels = make_panels();
    std::vector<panel_result> results;
    for (std::size_t i = 0; i < panels.size(); ++i) {
        results.push_back(run_panel(panels[i], i, opts));
        write_text(opts.out / panels[i].file, csv_text(results.back(), opts.samples));
    }
    write_text(opts.out / script_name, gnuplot_script(results, opts));
    std::printf("Wrote %zu CSVs and %s to %s (%llu samples per series, seed %llu).\n\n",
                panels.size(), script_name, opts.out.string().c_str(),
                static_cast<unsigned long long>(opts.samples),
                static_cast<unsigned long long>(opts.seed));
    print_table(results, opts.samples);

    const auto gnuplot = find_in_path("gnuplot");
    if (!gnuplot) {
        std::printf(
            "\ngnuplot is not on the PATH, so there is no PNG. To draw it:\n"
            "  apt-get install gnuplot-nox\n  cd %s && gnuplot %s\n",
            opts.out.string().c_str(), script_name);
        return 0;
    }
    if (!draw_png(*gnuplot, opts.out)) {
        std::fprintf(stderr,
                     "poisson_histograms: gnuplot failed; the CSVs are kept. Retry: cd %s"
                     " && gnuplot %s\n",
                     opts.out.string().c_str(), script_name);
        return 1;
    }
    std::printf("\nPlot: %s\n", (opts.out / png_name).string().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options opts;
    try {
        opts = parse_options(argc, argv);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "poisson_histograms: %s\nRun with --help for the usage.\n", e.what());
        return 2;
    }
    if (opts.help) {
        std::fputs(usage_text, stdout);
        return 0;
    }
    try {
        return run(opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "poisson_histograms: %s\n", e.what());
        return 1;
    }
}
