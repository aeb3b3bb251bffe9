// Runs the fuzzer's seed corpus (tests/fuzz/corpus/idx, made by make_idx_corpus.py) through
// the reader with the ordinary compiler, and checks that each file does what its name says.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "poisson/data/idx.hpp"

namespace {

namespace fs = std::filesystem;

/// The part of the error message that each broken seed must produce; "" for a valid file.
const std::map<std::string, std::string>& expected_outcomes() {
    static const std::map<std::string, std::string> outcomes = {
        {"images_raw", ""},
        {"labels_raw", ""},
        {"images_gz", ""},
        {"labels_gz", ""},
        {"two_members_gz", ""},
        {"label_above_9", ""},
        {"rank_2", ""},
        {"empty_payload", ""},
        {"payload_short", "the payload has 17 bytes, the header declares 18"},
        {"payload_long", "the payload has 19 bytes, the header declares 18"},
        {"payload_short_gz", "the payload has 17 bytes, the header declares 18"},
        {"payload_long_gz", "trailing bytes after the 34 bytes the header declares"},
        {"short_header", "short header: 6 bytes, the header needs 16"},
        {"bad_magic", "not an IDX file"},
        {"bad_type", "element type 0x0d is not supported"},
        {"zero_rank", "the header declares 0 dimensions"},
        {"overflow", "overflow when multiplied"},
        {"above_cap", "above the cap"},
        {"gz_truncated", "the gzip data is truncated"},
        {"gz_bad_crc", "incorrect data check"},
        {"gz_trailing_garbage", "2 bytes of trailing garbage after the gzip data"},
        {"gz_bomb_small", "trailing bytes after the 24 bytes the header declares"},
    };
    return outcomes;
}

std::string outcome_of(const fs::path& path) {
    try {
        poisson::data::read_idx(path);
    } catch (const poisson::io_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("read_idx: every seed of the fuzz corpus reads or fails as its name says") {
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(POISSON_IDX_CORPUS_DIR)) {
        const std::string name = entry.path().filename().string();
        CAPTURE(name);
        const auto expected = expected_outcomes().find(name);
        REQUIRE_MESSAGE(expected != expected_outcomes().end(), "a seed this test does not know");
        const std::string outcome = outcome_of(entry.path());
        if (expected->second.empty()) {
            CHECK(outcome == "");
        } else {
            CHECK(outcome.find(expected->second) != std::string::npos);
        }
        ++seen;
    }
    CHECK(seen == expected_outcomes().size());
}
