#pragma once

/// @file
/// @brief Shared helpers for the statistical tests: incomplete gamma, chi-square and
/// Kolmogorov-Smirnov tests, and the exact Poisson distribution in log space.
///
/// Everything is computed in double. Test support only: not part of the library.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "poisson/errors.hpp"

namespace poisson::test {

namespace detail {

inline constexpr double gamma_epsilon = 1e-16;
inline constexpr long gamma_max_terms = 100'000'000;

/// log P(a, x) from the series P(a, x) = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)..(a+n)),
/// which converges fast for x < a + 1.
inline double log_gamma_p_series(double a, double x) {
    double term = 1.0;
    double sum = 1.0;
    for (long n = 1; n < gamma_max_terms; ++n) {
        term *= x / (a + static_cast<double>(n));
        sum += term;
        if (term < sum * gamma_epsilon) {
            return a * std::log(x) - x - std::lgamma(a + 1.0) + std::log(sum);
        }
    }
    throw poisson::numerical_error("gamma_p: series did not converge for a = " + std::to_string(a) +
                                   ", x = " + std::to_string(x));
}

/// log Q(a, x) from the continued fraction
/// Q(a, x) = x^a e^-x / Gamma(a) * 1 / (x+1-a - 1(1-a) / (x+3-a - 2(2-a) / (x+5-a - ...))),
/// evaluated by the modified Lentz method; it converges fast for x >= a + 1.
inline double log_gamma_q_fraction(double a, double x) {
    constexpr double tiny = 1e-300;
    double b = x + 1.0 - a;
    double c = 1.0 / tiny;
    double d = 1.0 / b;
    double h = d;
    for (long i = 1; i < gamma_max_terms; ++i) {
        const double an = -static_cast<double>(i) * (static_cast<double>(i) - a);
        b += 2.0;
        d = an * d + b;
        d = std::abs(d) < tiny ? tiny : d;
        c = b + an / c;
        c = std::abs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1.0) < gamma_epsilon) {
            return a * std::log(x) - x - std::lgamma(a) + std::log(h);
        }
    }
    throw poisson::numerical_error("gamma_q: continued fraction did not converge for a = " +
                                   std::to_string(a) + ", x = " + std::to_string(x));
}

inline void check_gamma_arguments(double a, double x) {
    if (!(a > 0.0) || !(x >= 0.0) || std::isinf(a)) {
        throw poisson::invalid_argument("gamma_q: needs a > 0 and x >= 0, got a = " +
                                        std::to_string(a) + ", x = " + std::to_string(x));
    }
}

}  // namespace detail

/// @brief log P(a, x), the log of the regularised lower incomplete gamma function
/// P(a, x) = gamma(a, x) / Gamma(a). Requires a > 0, x >= 0.
inline double log_gamma_p(double a, double x) {
    detail::check_gamma_arguments(a, x);
    if (x == 0.0) return -std::numeric_limits<double>::infinity();
    if (x < a + 1.0) return detail::log_gamma_p_series(a, x);
    return std::log1p(-std::exp(detail::log_gamma_q_fraction(a, x)));
}

/// @brief log Q(a, x), the log of the regularised upper incomplete gamma function
/// Q(a, x) = Gamma(a, x) / Gamma(a) = 1 - P(a, x). Requires a > 0, x >= 0.
inline double log_gamma_q(double a, double x) {
    detail::check_gamma_arguments(a, x);
    if (x == 0.0) return 0.0;
    if (x < a + 1.0) return std::log1p(-std::exp(detail::log_gamma_p_series(a, x)));
    return detail::log_gamma_q_fraction(a, x);
}

/// @brief The regularised upper incomplete gamma function Q(a, x). Requires a > 0, x >= 0.
inline double gamma_q(double a, double x) {
    detail::check_gamma_arguments(a, x);
    if (x == 0.0) return 1.0;
    if (x < a + 1.0) return -std::expm1(detail::log_gamma_p_series(a, x));
    return std::exp(detail::log_gamma_q_fraction(a, x));
}

/// @brief P(chi^2_dof > statistic) = Q(dof / 2, statistic / 2). Requires dof > 0.
inline double chi_square_p_value(double statistic, double dof) {
    return statistic <= 0.0 ? 1.0 : gamma_q(dof / 2.0, statistic / 2.0);
}

/// @brief Result of a goodness-of-fit test.
struct chi_square_result {
    double statistic = 0.0;  ///< sum over bins of (observed - expected)^2 / expected
    int dof = 0;             ///< bins after merging, minus one
    double p_value = 1.0;    ///< P(chi^2_dof >= statistic); 1 if fewer than two bins remain
};

namespace detail {

struct merged_bin {
    double observed = 0.0;
    double expected = 0.0;
};

inline void check_probabilities(std::span<const double> observed,
                                std::span<const double> probabilities) {
    if (observed.size() != probabilities.size() || observed.empty()) {
        throw poisson::invalid_argument("chi_square_gof: " + std::to_string(observed.size()) +
                                        " observed bins but " +
                                        std::to_string(probabilities.size()) + " probabilities");
    }
    const double total = std::accumulate(probabilities.begin(), probabilities.end(), 0.0);
    if (std::abs(total - 1.0) > 1e-9) {
        throw poisson::invalid_argument("chi_square_gof: the probabilities sum to " +
                                        std::to_string(total) + ", not 1");
    }
}

/// Merges consecutive bins, left to right, until each holds an expected count of at least
/// `min_expected`; what is left at the end joins the last merged bin.
inline std::vector<merged_bin> merge_bins(std::span<const double> observed,
                                          std::span<const double> probabilities, double n,
                                          double min_expected) {
    std::vector<merged_bin> bins;
    merged_bin open;
    for (std::size_t i = 0; i < observed.size(); ++i) {
        open.observed += observed[i];
        open.expected += n * probabilities[i];
        if (open.expected >= min_expected) {
            bins.push_back(open);
            open = {};
        }
    }
    if (bins.empty()) {
        bins.push_back(open);
    } else {
        bins.back().observed += open.observed;
        bins.back().expected += open.expected;
    }
    return bins;
}

}  // namespace detail

/// @brief Pearson's chi-square goodness-of-fit test of observed counts against bin
/// probabilities (which must sum to 1; the last bin is the folded tail).
///
/// Bins whose expected count is below `min_expected` are merged with their neighbours. A
/// count in a bin of probability 0 is impossible: the result is then an infinite statistic
/// and a p-value of 0.
inline chi_square_result chi_square_gof(std::span<const double> observed,
                                        std::span<const double> probabilities,
                                        double min_expected = 5.0) {
    detail::check_probabilities(observed, probabilities);
    for (std::size_t i = 0; i < observed.size(); ++i) {
        if (probabilities[i] == 0.0 && observed[i] > 0.0) {
            return {std::numeric_limits<double>::infinity(), 0, 0.0};
        }
    }
    const double n = std::accumulate(observed.begin(), observed.end(), 0.0);
    const auto bins = detail::merge_bins(observed, probabilities, n, min_expected);
    chi_square_result result;
    for (const auto& bin : bins) {
        const double diff = bin.observed - bin.expected;
        result.statistic += diff * diff / bin.expected;
    }
    result.dof = static_cast<int>(bins.size()) - 1;
    result.p_value = result.dof > 0 ? chi_square_p_value(result.statistic, result.dof) : 1.0;
    return result;
}

/// @brief log P(X = k) for X ~ Poisson(rate): k log(rate) - rate - lgamma(k + 1).
/// At rate 0 it is 0 for k = 0 and -inf otherwise. Requires k >= 0 integer, rate >= 0.
inline double poisson_log_pmf(double k, double rate) {
    if (rate == 0.0) return k == 0.0 ? 0.0 : -std::numeric_limits<double>::infinity();
    return k * std::log(rate) - rate - std::lgamma(k + 1.0);
}

/// @brief P(X = k) for X ~ Poisson(rate).
inline double poisson_pmf(double k, double rate) {
    return std::exp(poisson_log_pmf(k, rate));
}

/// @brief log P(X > k) for X ~ Poisson(rate), through P(X > k) = P(k + 1, rate) (the
/// regularised lower incomplete gamma); accurate far into the tail. 0 for k < 0.
inline double poisson_log_upper_tail(double k, double rate) {
    if (k < 0.0) return 0.0;
    if (rate == 0.0) return -std::numeric_limits<double>::infinity();
    return log_gamma_p(std::floor(k) + 1.0, rate);
}

/// @brief P(X > k) for X ~ Poisson(rate).
inline double poisson_upper_tail(double k, double rate) {
    return std::exp(poisson_log_upper_tail(k, rate));
}

/// @brief Bin probabilities for a test of Poisson(rate) counts: the folded lower tail
/// P(X <= first) = Q(first + 1, rate) in bin 0, P(X = i) for first < i < last, and the folded
/// upper tail P(X >= last) in the final bin (last - first + 1 bins). Requires first < last.
inline std::vector<double> poisson_bins(double rate, std::size_t last, std::size_t first = 0) {
    if (first >= last) {
        throw poisson::invalid_argument("poisson_bins: first " + std::to_string(first) +
                                        " is not below last " + std::to_string(last));
    }
    std::vector<double> p(last - first + 1);
    p.front() = rate == 0.0 ? 1.0 : gamma_q(static_cast<double>(first) + 1.0, rate);
    for (std::size_t i = first + 1; i < last; ++i) {
        p[i - first] = poisson_pmf(static_cast<double>(i), rate);
    }
    p.back() = poisson_upper_tail(static_cast<double>(last) - 1.0, rate);
    return p;
}

/// @brief Counts of `samples` (non-negative integers) in the bins of `poisson_bins(rate,
/// last, first)`: values up to `first` in bin 0, values from `last` on in the final bin.
template <class T>
std::vector<double> count_bins(std::span<const T> samples, std::size_t last,
                               std::size_t first = 0) {
    std::vector<double> counts(last - first + 1, 0.0);
    for (T x : samples) {
        const double v = std::clamp(static_cast<double>(x), static_cast<double>(first),
                                    static_cast<double>(last));
        ++counts[static_cast<std::size_t>(v) - first];
    }
    return counts;
}

/// @brief The pmf of Poisson(rate) truncated to 0..k and renormalised:
/// P(X = i | X <= k) = exp(log p_i - logsumexp_j log p_j), computed in log space.
inline std::vector<double> poisson_truncated_pmf(double rate, std::size_t k) {
    std::vector<double> log_p(k + 1);
    for (std::size_t i = 0; i <= k; ++i) log_p[i] = poisson_log_pmf(static_cast<double>(i), rate);
    const double top = *std::max_element(log_p.begin(), log_p.end());
    double sum = 0.0;
    for (double lp : log_p) sum += std::exp(lp - top);
    const double log_norm = top + std::log(sum);
    for (double& lp : log_p) lp = std::exp(lp - log_norm);
    return log_p;
}

/// @brief Result of a Kolmogorov-Smirnov test.
struct ks_result {
    double statistic = 0.0;  ///< D = sup_x |F_n(x) - F(x)|
    double p_value = 1.0;    ///< asymptotic P(D_n >= statistic)
};

/// @brief P(K > t) for the Kolmogorov distribution: 2 sum_j (-1)^(j-1) exp(-2 j^2 t^2),
/// and for small t, where that series converges slowly, 1 minus
/// sqrt(2 pi) / t * sum_j exp(-(2j-1)^2 pi^2 / (8 t^2)).
inline double kolmogorov_q(double t) {
    if (t <= 0.0) return 1.0;
    constexpr int terms = 100;
    double sum = 0.0;
    if (t < 1.18) {
        const double c = -std::numbers::pi * std::numbers::pi / (8.0 * t * t);
        for (int j = 1; j <= terms; ++j) sum += std::exp((2 * j - 1) * (2 * j - 1) * c);
        return 1.0 - std::sqrt(2.0 * std::numbers::pi) / t * sum;
    }
    for (int j = 1; j <= terms; ++j) {
        sum += (j % 2 == 1 ? 2.0 : -2.0) * std::exp(-2.0 * j * j * t * t);
    }
    return sum;
}

/// @brief One-sample Kolmogorov-Smirnov test of continuous `samples` against `cdf`.
///
/// D = max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n) over the sorted sample; the p-value is
/// the Kolmogorov tail at (sqrt(n) + 0.12 + 0.11 / sqrt(n)) D (M. A. Stephens, "Use of the
/// Kolmogorov-Smirnov, Cramer-von Mises and related statistics without extensive tables",
/// JRSS B 32, 1970), good for n of about 35 or more.
template <class Cdf>
ks_result ks_test(std::vector<double> samples, Cdf cdf) {
    if (samples.empty()) throw poisson::invalid_argument("ks_test: no samples");
    std::sort(samples.begin(), samples.end());
    const double n = static_cast<double>(samples.size());
    double d = 0.0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const double f = cdf(samples[i]);
        const double rank = static_cast<double>(i);
        d = std::max({d, (rank + 1.0) / n - f, f - rank / n});
    }
    const double root_n = std::sqrt(n);
    return {d, kolmogorov_q((root_n + 0.12 + 0.11 / root_n) * d)};
}

}  // namespace poisson::test
