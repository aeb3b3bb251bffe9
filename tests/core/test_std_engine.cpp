#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "poisson/random/std_engine.hpp"
#include "support/statistics.hpp"

using namespace poisson;

TEST_CASE_TEMPLATE("std_engine: uniforms on (0,1) pass a KS test for engines of any range", E,
                   std::mt19937_64, std::mt19937, std::minstd_rand, std::ranlux24) {
    std_engine<E> provider(5);
    auto stream = provider.stream({});
    std::vector<double> doubles, floats;
    for (int i = 0; i < 20000; ++i) {
        doubles.push_back(stream.template next<double>());
        floats.push_back(stream.template next<float>());
    }
    for (const auto* samples : {&doubles, &floats}) {
        for (double u : *samples) {
            REQUIRE(u > 0.0);
            REQUIRE(u < 1.0);
        }
        const auto ks = test::ks_test(*samples, [](double x) { return x; });
        CHECK(ks.p_value > 1e-4);
    }
}

TEST_CASE("std_engine: a draw is fixed by the engine's outputs alone") {
    // mt19937_64's first output for the default seed is fixed by the C++ standard; its top 52
    // bits make the first double.
    std::mt19937_64 reference;
    const std::uint64_t first = reference();
    std_engine<> provider;
    auto stream = provider.stream({});
    CHECK(stream.next<double>() == open_unit_double(first));
}

TEST_CASE("std_engine: state and restore resume the sequence") {
    std_engine<> provider(9);
    auto stream = provider.stream({});
    (void)stream.next<double>();
    const std::string saved = provider.state();
    const double next = provider.stream({}).next<double>();
    provider.restore(saved);
    CHECK(provider.stream({}).next<double>() == next);
    CHECK_THROWS_WITH_AS(provider.restore("not an engine"),
                         "std_engine::restore: the text is not a saved engine state",
                         invalid_argument);
}
