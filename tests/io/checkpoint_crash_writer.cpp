// Saves checkpoints of a few MB to one path, over and over, for checkpoint_crash_test, which
// kills this program at random moments and checks what is left at the path.
//
// Usage: checkpoint_crash_writer PATH FIRST_VERSION COUNT   (COUNT 0: until killed)
// Version v holds u64 "version" = v, a text "note" and a float tensor "payload" whose
// elements are checkpoint_crash_content(v, i); see checkpoint_crash_content.hpp.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "checkpoint_crash_content.hpp"
#include "poisson/io/checkpoint.hpp"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s PATH FIRST_VERSION COUNT\n", argv[0]);
        return 2;
    }
    try {
        const std::string path = argv[1];
        const std::uint64_t first = std::stoull(argv[2]);
        const std::uint64_t count = std::stoull(argv[3]);
        for (std::uint64_t v = first; count == 0 || v < first + count; ++v) {
            crash_test::make_version(v).save(path);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "checkpoint_crash_writer: %s\n", e.what());
        return 1;
    }
    return 0;
}
