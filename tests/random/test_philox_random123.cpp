// Our Philox4x32-10 against the reference implementation, Random123's r123::Philox4x32.

#include <Random123/philox.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <random>

#include "poisson/random/philox.hpp"

// <Random123/philox.h> defines a macro philox4x32(c, k): the parentheses in
// (poisson::philox4x32)(c, k) keep it from replacing our function.

namespace {

poisson::philox_counter reference(const poisson::philox_counter& c, const poisson::philox_key& k) {
    const r123::Philox4x32::ctr_type ctr = {{c[0], c[1], c[2], c[3]}};
    const r123::Philox4x32::key_type key = {{k[0], k[1]}};
    const auto out = r123::Philox4x32()(ctr, key);
    return {out[0], out[1], out[2], out[3]};
}

}  // namespace

TEST_CASE("philox4x32: Random123 reproduces the known-answer vectors used in test_philox") {
    CHECK(reference({0, 0, 0, 0}, {0, 0}) ==
          poisson::philox_counter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
    CHECK(reference({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
          poisson::philox_counter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("philox4x32: agrees with r123::Philox4x32 on random counters and keys") {
    std::mt19937 engine(20111112);
    const auto word = [&engine] { return static_cast<std::uint32_t>(engine()); };
    for (int i = 0; i < 5000; ++i) {
        const poisson::philox_counter c{word(), word(), word(), word()};
        const poisson::philox_key k{word(), word()};
        REQUIRE((poisson::philox4x32)(c, k) == reference(c, k));
    }
}

TEST_CASE("philox_stream: its words are r123::Philox4x32 of {block, element, step, stream}") {
    const std::uint64_t seed = 0xfedcba9876543210ULL;
    auto s = poisson::philox(seed, 3).stream({.step = 77, .element = 123456});
    for (std::uint32_t block = 0; block < 100; ++block) {
        const auto words = reference({block, 123456, 77, 3}, {0x76543210u, 0xfedcba98u});
        for (std::uint32_t w : words) REQUIRE(s.next<float>() == poisson::open_unit_float(w));
    }
}
