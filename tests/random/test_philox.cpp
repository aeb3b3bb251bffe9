// Philox4x32-10 and the philox provider: known answers, stream layout, fill, state, uniforms.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "poisson/random/philox.hpp"
#include "support/statistics.hpp"

using poisson::philox;
using poisson::philox_counter;
using poisson::philox_key;
using poisson::philox_stream;

namespace {

struct known_answer {
    philox_counter counter;
    philox_key key;
    philox_counter expected;
};

// The three "philox4x32 10" lines of Random123's tests/kat_vectors
// (github.com/DEShawResearch/random123): counter, key, expected output.
constexpr known_answer known_answers[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

// The same vectors hold at compile time.
static_assert(poisson::philox4x32(known_answers[0].counter, known_answers[0].key) ==
              known_answers[0].expected);
static_assert(poisson::rng_provider<philox>);
static_assert(philox::is_counter_based);

template <class T>
std::vector<T> draw(philox_stream s, std::size_t n) {
    std::vector<T> out(n);
    for (auto& x : out) x = s.next<T>();
    return out;
}

constexpr std::uint64_t seed = 0x0123456789abcdefULL;

}  // namespace

TEST_CASE("philox4x32: Random123 known-answer vectors") {
    for (const auto& kat : known_answers) {
        CHECK(poisson::philox4x32(kat.counter, kat.key) == kat.expected);
    }
}

TEST_CASE("philox_stream: words come from counters {block, element, step, stream}, key = seed") {
    const philox provider(seed, 7);
    const philox_key key{0x89abcdefu, 0x01234567u};
    const auto block0 = poisson::philox4x32({0, 42, 9, 7}, key);
    const auto block1 = poisson::philox4x32({1, 42, 9, 7}, key);

    auto floats = provider.stream({.step = 9, .element = 42});
    for (std::uint32_t w : block0) CHECK(floats.next<float>() == poisson::open_unit_float(w));
    for (std::uint32_t w : block1) CHECK(floats.next<float>() == poisson::open_unit_float(w));

    // A double takes two words, the first as the low half.
    auto doubles = provider.stream({.step = 9, .element = 42});
    const auto join = [](std::uint32_t lo, std::uint32_t hi) {
        return poisson::open_unit_double((std::uint64_t{hi} << 32) | lo);
    };
    CHECK(doubles.next<double>() == join(block0[0], block0[1]));
    CHECK(doubles.next<double>() == join(block0[2], block0[3]));
    CHECK(doubles.next<double>() == join(block1[0], block1[1]));

    // After a float, a double straddles the block boundary.
    auto mixed = provider.stream({.step = 9, .element = 42});
    for (int i = 0; i < 3; ++i) mixed.next<float>();
    CHECK(mixed.next<double>() == join(block0[3], block1[0]));
    CHECK(mixed.next<float>() == poisson::open_unit_float(block1[1]));
}

TEST_CASE_TEMPLATE("philox: same seed, stream and key give the same uniforms", T, float, double) {
    const philox a(seed, 3), b(seed, 3);
    CHECK(draw<T>(a.stream({5, 11}), 1000) == draw<T>(b.stream({5, 11}), 1000));
    // Drawing other streams in between changes nothing (counter-based).
    auto first = draw<T>(a.stream({5, 11}), 10);
    draw<T>(a.stream({5, 12}), 100);
    CHECK(draw<T>(a.stream({5, 11}), 10) == first);
}

TEST_CASE_TEMPLATE("philox: streams of other elements, steps, layers and seeds differ", T, float,
                   double) {
    const auto base = draw<T>(philox(seed, 3).stream({5, 11}), 64);
    CHECK(draw<T>(philox(seed, 3).stream({5, 12}), 64) != base);
    CHECK(draw<T>(philox(seed, 3).stream({6, 11}), 64) != base);
    CHECK(draw<T>(philox(seed, 4).stream({5, 11}), 64) != base);
    CHECK(draw<T>(philox(seed + 1, 3).stream({5, 11}), 64) != base);
    CHECK(draw<T>(philox(seed ^ (1ULL << 63), 3).stream({5, 11}), 64) != base);
    // Element and step are separate counter words: swapping them gives another stream.
    CHECK(draw<T>(philox(seed, 3).stream({11, 5}), 64) != base);
}

TEST_CASE_TEMPLATE("philox_stream: fill equals repeated next, from any position", T, float,
                   double) {
    const philox provider(seed, 1);
    for (std::size_t skip_floats : {0, 1, 2, 3, 4, 5}) {
        for (std::size_t n : {0, 1, 3, 7, 31, 32, 33, 64, 100, 257, 1000}) {
            CAPTURE(skip_floats);
            CAPTURE(n);
            auto by_next = provider.stream({2, 8});
            auto by_fill = provider.stream({2, 8});
            for (std::size_t i = 0; i < skip_floats; ++i) {
                by_next.next<float>();
                by_fill.next<float>();
            }
            std::vector<T> expected(n), filled(n);
            for (auto& x : expected) x = by_next.template next<T>();
            by_fill.fill(filled.data(), n);
            CHECK(filled == expected);
            // Both streams continue from the same position.
            CHECK(by_fill.next<double>() == by_next.next<double>());
            CHECK(by_fill.next<float>() == by_next.next<float>());
        }
    }
}

TEST_CASE_TEMPLATE("philox_stream: uniforms lie strictly inside (0, 1)", T, float, double) {
    const philox provider(seed);
    auto s = provider.stream({0, 0});
    std::vector<T> u(1 << 20);
    s.fill(u.data(), u.size());
    T low = 1, high = 0;
    for (T x : u) {
        low = std::min(low, x);
        high = std::max(high, x);
    }
    CHECK(low > T(0));
    CHECK(high < T(1));
}

TEST_CASE_TEMPLATE("philox_stream: uniforms pass a Kolmogorov-Smirnov test", T, float, double) {
    // Fixed seeds; each KS test falsely fails with probability 1e-4 for a perfect generator.
    const philox provider(seed, 2);
    const auto uniform_cdf = [](double x) { return x; };
    const std::size_t n = 100000;

    SUBCASE("along one stream") {
        auto s = provider.stream({1, 1});
        std::vector<double> u(n);
        for (auto& x : u) x = static_cast<double>(s.next<T>());
        CHECK(poisson::test::ks_test(u, uniform_cdf).p_value > 1e-4);
    }
    SUBCASE("first draw of successive elements, the way a layer uses them") {
        std::vector<double> u(n);
        for (std::size_t e = 0; e < n; ++e) {
            u[e] = static_cast<double>(provider.stream({1, e}).next<T>());
        }
        CHECK(poisson::test::ks_test(u, uniform_cdf).p_value > 1e-4);
    }
    SUBCASE("first draw of successive steps") {
        std::vector<double> u(n);
        for (std::size_t t = 0; t < n; ++t) {
            u[t] = static_cast<double>(provider.stream({t, 1}).next<T>());
        }
        CHECK(poisson::test::ks_test(u, uniform_cdf).p_value > 1e-4);
    }
}

TEST_CASE("philox::stream: rejects an element or step above 2^32 - 1") {
    const philox provider(seed);
    constexpr std::uint64_t max_word = std::numeric_limits<std::uint32_t>::max();
    CHECK_NOTHROW(provider.stream({max_word, max_word}));
    CHECK_THROWS_AS(provider.stream({0, max_word + 1}), poisson::invalid_argument);
    CHECK_THROWS_AS(provider.stream({max_word + 1, 0}), poisson::invalid_argument);
    CHECK_THROWS_WITH(provider.stream({0, max_word + 1}),
                      "philox::stream: element 4294967296 exceeds 2^32 - 1");
}

TEST_CASE("philox: state and restore round-trip the seed and stream id") {
    const philox original(std::numeric_limits<std::uint64_t>::max(), 4000000000u);
    CHECK(original.state() == "philox seed=18446744073709551615 stream=4000000000");
    philox copy(1, 2);
    copy.restore(original.state());
    CHECK(copy.seed() == original.seed());
    CHECK(copy.stream_id() == original.stream_id());
    CHECK(draw<float>(copy.stream({3, 4}), 16) == draw<float>(original.stream({3, 4}), 16));
}

TEST_CASE("philox::restore: rejects malformed text and keeps the provider unchanged") {
    philox provider(5, 6);
    for (const char* bad :
         {"", "philox", "philox seed=1", "philox seed=1 stream=", "philox seed=-1 stream=0",
          "philox seed=+1 stream=0", "philox seed=1 stream=2 ", " philox seed=1 stream=2",
          "philox seed=1  stream=2", "philox seed=0x10 stream=2", "philox seed=1 stream=4294967296",
          "philox seed=18446744073709551616 stream=0", "mt19937 seed=1 stream=2",
          "philox stream=2 seed=1"}) {
        CAPTURE(std::string(bad));
        CHECK_THROWS_AS(provider.restore(bad), poisson::invalid_argument);
    }
    CHECK(provider.seed() == 5);
    CHECK(provider.stream_id() == 6);
}
