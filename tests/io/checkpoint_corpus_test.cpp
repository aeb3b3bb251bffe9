// Loads the checkpoint seeds that tests/fuzz/make_checkpoint_corpus.py writes from the format
// description alone: the C++ reader must agree with that description.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "poisson/io/checkpoint.hpp"

namespace {

using poisson::io::checkpoint;

checkpoint seed(const std::string& name) {
    return checkpoint::load(std::string(POISSON_CHECKPOINT_CORPUS_DIR) + "/" + name);
}

}  // namespace

TEST_CASE("checkpoint: files written from the format description load as described") {
    CHECK(seed("empty").size() == 0);

    const checkpoint one = seed("one_of_each");
    CHECK(one.names() == std::vector<std::string>{"rng", "step", "w"});
    CHECK(one.get_text("rng") == "state");
    CHECK(one.get_u64("step") == 42);
    CHECK(one.get<float>("w") == xt::xarray<float>{{1.5f, -2.0f}, {0.25f, 3.0f}});

    const checkpoint all = seed("all_elements");
    CHECK(all.get<double>("d") == xt::xarray<double>{-1e300, 0.1, 2.5});
    const xt::xarray<std::int32_t> i = all.get<std::int32_t>("i");
    CHECK(i.shape() == std::vector<std::size_t>{2, 1});
    CHECK(i(0, 0) == std::numeric_limits<std::int32_t>::min());
    CHECK(i(1, 0) == 7);
    CHECK(all.get<double>("s").dimension() == 0);
    CHECK(all.get<double>("s")() == 2.5);
    CHECK(all.get<std::uint64_t>("u") ==
          xt::xarray<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()});
    CHECK(all.get<float>("z").shape() == std::vector<std::size_t>{0, 3});
    // The C++ writer produces the very same bytes.
    CHECK(checkpoint::from_bytes(all.to_bytes()).to_bytes() == all.to_bytes());
}
