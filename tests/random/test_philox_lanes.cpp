// Philox4x32-10 on many lanes and the lane streams: the same words and uniforms as
// philox4x32 and philox_stream, for every lane and range of positions.

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "poisson/math/simd_math.hpp"
#include "poisson/random/lane_streams.hpp"
#include "poisson/random/philox.hpp"
#include "poisson/random/philox_lanes.hpp"

using namespace poisson;

namespace {

constexpr std::uint64_t seed = 0x0123456789abcdefULL;

template <class T>
constexpr std::size_t lanes = detail::native_lanes<T>;

template <class T>
using elements_of = std::array<std::uint32_t, lanes<T>>;

// Uniforms begin..end of every lane, from philox_stream itself: out[(q - begin) L + j].
template <class T>
std::vector<T> expected_rows(const philox& rng, std::uint32_t step, std::uint64_t first,
                             const elements_of<T>& elements, std::size_t begin, std::size_t end) {
    std::vector<T> out((end - begin) * lanes<T>);
    for (std::size_t j = 0; j < lanes<T>; ++j) {
        auto stream = rng.stream({step, first + elements[j]});
        for (std::size_t q = 0; q < end; ++q) {
            const T u = stream.template next<T>();
            if (q >= begin) out[(q - begin) * lanes<T> + j] = u;
        }
    }
    return out;
}

// Uniforms begin..end of every lane as `lane_streams` draws them, in the same layout.
template <class T, class Lanes>
std::vector<T> drawn_rows(Lanes& lane_streams, const elements_of<T>& elements, std::size_t begin,
                          std::size_t end) {
    std::vector<T> rows((end - begin) * lanes<T>);
    lane_streams.template draw<T>(elements, begin, end, rows.data());
    return rows;
}

template <class T>
elements_of<T> some_elements(std::uint32_t salt) {
    elements_of<T> e;
    for (std::size_t j = 0; j < lanes<T>; ++j) e[j] = static_cast<std::uint32_t>(j * 37 + salt);
    return e;
}

}  // namespace

TEST_CASE("philox4x32_lanes: every lane equals philox4x32 of its counter") {
    constexpr std::size_t L = 16;
    std::mt19937_64 engine(5);
    for (int trial = 0; trial < 20; ++trial) {
        philox_lane_block<L> block{};
        std::array<philox_counter, L> counters;
        constexpr std::size_t R = philox_lane_block<L>::per_register;
        for (std::size_t j = 0; j < L; ++j) {
            for (std::size_t w = 0; w < 4; ++w) {
                counters[j][w] = static_cast<std::uint32_t>(engine());
                block.x[w][j / R][j % R] = counters[j][w];
            }
        }
        const philox_key key{static_cast<std::uint32_t>(engine()),
                             static_cast<std::uint32_t>(engine())};
        philox4x32_lanes(block, key);
        for (std::size_t j = 0; j < L; ++j) {
            const philox_counter expected = (philox4x32)(counters[j], key);
            for (std::size_t w = 0; w < 4; ++w) {
                const std::uint64_t word = block.x[w][j / R][j % R];
                CHECK(word == expected[w]);
            }
        }
    }
}

TEST_CASE_TEMPLATE("philox_lanes: draw gives each lane's philox_stream uniforms", T, float,
                   double) {
    const philox rng(seed, 5);
    const std::uint64_t first = 4000;
    const auto elements = some_elements<T>(3);
    const philox_lanes lanes_of_rng(rng, 9, first);
    const std::pair<std::size_t, std::size_t> ranges[] = {{0, 24}, {0, 1}, {3, 10}, {4, 8},
                                                          {5, 5},  {1, 2}, {7, 130}};
    for (const auto& range : ranges) {
        const std::size_t begin = range.first, end = range.second;
        CAPTURE(begin);
        CAPTURE(end);
        CHECK(drawn_rows<T>(lanes_of_rng, elements, begin, end) ==
              expected_rows<T>(rng, 9, first, elements, begin, end));
    }
}

TEST_CASE_TEMPLATE("philox_lanes: the largest element index is the last word value", T, float,
                   double) {
    const philox rng(seed);
    elements_of<T> elements{};
    elements.fill(0);
    elements[0] = 0xffffffffu - 10;  // first + element = 2^32 - 1
    const philox_lanes lanes_of_rng(rng, 1, 10);
    CHECK(drawn_rows<T>(lanes_of_rng, elements, 0, 8) ==
          expected_rows<T>(rng, 1, 10, elements, 0, 8));
}

TEST_CASE_TEMPLATE("provider_lanes: any counter-based provider gives the same rows", T, float,
                   double) {
    const philox rng(seed, 2);
    const auto elements = some_elements<T>(11);
    const detail::provider_lanes<philox> generic(rng, 4, 100);
    CHECK(drawn_rows<T>(generic, elements, 3, 20) ==
          expected_rows<T>(rng, 4, 100, elements, 3, 20));
}

TEST_CASE_TEMPLATE("broadcast_lanes: one stream, read once in order, fills every lane", T, float,
                   double) {
    const philox rng(seed, 1);
    auto reference = rng.stream({2, 3});
    std::vector<T> sequence(40);
    for (auto& u : sequence) u = reference.template next<T>();

    auto stream = rng.stream({2, 3});
    detail::broadcast_lanes<philox_stream> broadcast(stream);
    const auto rows = drawn_rows<T>(broadcast, elements_of<T>{}, 4, 9);  // skips 0..3
    for (std::size_t q = 4; q < 9; ++q) {
        for (std::size_t j = 0; j < lanes<T>; ++j) {
            CHECK(rows[(q - 4) * lanes<T> + j] == sequence[q]);
        }
    }
    // The stream stopped at position 9: it continues from there.
    CHECK(stream.template next<T>() == sequence[9]);
}
