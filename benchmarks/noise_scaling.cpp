// How the cost of the straight-through Gumbel noise layer grows with k, with the batch size
// and with the share of exact zeros. Writes noise_scaling_{k,batch,zeros}.csv and, where
// gnuplot is installed, noise_scaling.png into the folder given (default: the current one).
//
// Usage: noise_scaling [OUT_DIR]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <xtensor/xarray.hpp>

#include "common/files.hpp"
#include "poisson/noise_layer.hpp"

namespace {

using tensor = xt::xarray<float>;

// Rates of `images` x 32 x 28 x 28: a share `zeros` of exact zeros, the rest scale * |N(0,1)|.
tensor make_rates(std::size_t images, double zeros, float scale) {
    tensor rates = tensor::from_shape({images, 32, 28, 28});
    std::mt19937_64 engine(7);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<double> uniform;
    for (float& r : rates) r = uniform(engine) < zeros ? 0.0f : scale * std::abs(normal(engine));
    return rates;
}

struct timing {
    double ms;
    std::size_t k;
};

timing best_of(const tensor& rates, int repeats = 5) {
    poisson::noise_layer<> layer{poisson::philox{1}};
    const tensor gradient = xt::ones_like(rates);
    double best = 1e300;
    for (int i = 0; i <= repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        layer.forward(rates);
        layer.backward(gradient);
        const std::chrono::duration<double, std::milli> t =
            std::chrono::steady_clock::now() - start;
        if (i > 0) best = std::min(best, t.count());
    }
    return {best, layer.diagnostics().k};
}

std::string row(double x, const tensor& rates, const timing& t) {
    std::ostringstream out;
    out << x << ',' << t.k << ',' << t.ms << ',' << double(rates.size()) / (t.ms * 1e3) << '\n';
    return out.str();
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path out = argc > 1 ? argv[1] : ".";
    std::filesystem::create_directories(out);
    const std::string header = "x,k,ms,m_elements_per_s\n";

    std::string by_k = header;  // the largest rate sets k; 25 images, half zeros
    for (float scale : {0.25f, 0.5f, 1.0f, 2.0f, 4.0f, 8.0f, 16.0f, 32.0f}) {
        const tensor rates = make_rates(25, 0.5, scale);
        const timing t = best_of(rates);
        by_k += row(double(t.k), rates, t);
        std::printf("scale %5.2f: k %4zu  %8.2f ms  %7.1f M el/s\n", scale, t.k, t.ms,
                    double(rates.size()) / (t.ms * 1e3));
    }
    std::string by_batch = header;  // images per batch, scale 2, half zeros
    for (std::size_t images : {1u, 5u, 10u, 25u, 50u, 100u, 200u}) {
        const tensor rates = make_rates(images, 0.5, 2.0f);
        by_batch += row(double(images), rates, best_of(rates));
    }
    std::string by_zeros = header;  // share of exact zeros, 25 images, scale 2
    for (double zeros : {0.0, 0.25, 0.5, 0.75, 0.9, 0.99}) {
        const tensor rates = make_rates(25, zeros, 2.0f);
        by_zeros += row(zeros, rates, best_of(rates));
    }
    examples::write_text_file(out / "noise_scaling_k.csv", by_k);
    examples::write_text_file(out / "noise_scaling_batch.csv", by_batch);
    examples::write_text_file(out / "noise_scaling_zeros.csv", by_zeros);
    if (!examples::have_gnuplot()) {
        std::printf("CSV files in %s; apt-get install gnuplot-nox for the plot\n", out.c_str());
        return 0;
    }
    const auto csv = [&](const char* name) { return "'" + (out / name).string() + "'"; };
    std::ostringstream gp;
    gp << "set terminal pngcairo size 1500,450 font 'sans,10'\nset termoption noenhanced\n"
       << "set output '" << (out / "noise_scaling.png.tmp").string() << "'\n"
       << "set datafile separator ','\nset grid\nset key off\n"
       << "set multiplot layout 1,3 title 'straight_through_gumbel noise layer, forward + "
          "backward, 32x28x28 per image'\n"
       << "set ylabel 'million elements per second'\nset yrange [0:*]\n"
       << "set xlabel 'k (from the largest rate)'\nset logscale x\nplot "
       << csv("noise_scaling_k.csv") << " skip 1 using 1:4 with linespoints pt 7 lw 2\n"
       << "set xlabel 'images per batch'\nplot " << csv("noise_scaling_batch.csv")
       << " skip 1 using 1:4 with linespoints pt 7 lw 2\nunset logscale x\n"
       << "set xlabel 'share of exact zeros'\nplot " << csv("noise_scaling_zeros.csv")
       << " skip 1 using 1:4 with linespoints pt 7 lw 2\nunset multiplot\n";
    examples::write_text_file(out / "noise_scaling.gp", gp.str());
    if (!examples::render_png(out / "noise_scaling.gp", out / "noise_scaling.png.tmp",
                              out / "noise_scaling.png")) {
        std::fprintf(stderr, "noise_scaling: gnuplot failed\n");
        return 1;
    }
    std::printf("wrote %s\n", (out / "noise_scaling.png").c_str());
    return 0;
}
