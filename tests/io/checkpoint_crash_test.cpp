// Kills checkpoint_crash_writer with SIGKILL at random moments (fixed seed) and checks after
// each kill that the file at its path, if any, loads and is one complete version.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "checkpoint_crash_content.hpp"
#include "poisson/io/checkpoint.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

pid_t start_writer(const fs::path& path, std::uint64_t first, std::uint64_t count) {
    std::string program = POISSON_CRASH_WRITER;
    std::string target = path.string();
    std::string first_text = std::to_string(first);
    std::string count_text = std::to_string(count);
    std::vector<char*> argv = {program.data(), target.data(), first_text.data(),
                               count_text.data(), nullptr};
    pid_t pid = -1;
    REQUIRE(posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ) == 0);
    return pid;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return status;
}

void sleep_ms(std::uint64_t ms) {
    timespec t{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

std::size_t count_temp_files(const fs::path& folder) {
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
        n += entry.path().filename().string().starts_with(".state.ckpt.tmp-");
    }
    return n;
}

}  // namespace

TEST_CASE("checkpoint: a save killed at any moment leaves the previous or the new version") {
    const fs::path folder = fs::path(POISSON_TEST_SCRATCH) / "crash";
    fs::remove_all(folder);
    fs::create_directories(folder);
    const fs::path path = folder / "state.ckpt";

    std::mt19937_64 rng(20240611);
    std::uint64_t next_version = 0;
    std::uint64_t last_seen = 0;
    int kills_with_temp_file = 0;
    // At least 20 kills, and more (up to 200) until three have landed in the middle of a save:
    // on a loaded machine the writer spends less of its time saving.
    constexpr int min_kills = 20, max_kills = 200, min_mid_save = 3;
    int kills = 0;
    auto more_kills = [&](int done) {
        return done < min_kills || (kills_with_temp_file < min_mid_save && done < max_kills);
    };
    for (int kill_number = 0; more_kills(kill_number); ++kill_number, ++kills) {
        const pid_t pid = start_writer(path, next_version, 0);
        sleep_ms(30 + rng() % 400);
        REQUIRE(kill(pid, SIGKILL) == 0);
        const int status = wait_for(pid);
        CAPTURE(kill_number);
        REQUIRE_MESSAGE(WIFSIGNALED(status), "the writer stopped by itself: see its stderr");

        // At most the temp file of the killed save remains: each save removes older ones.
        const std::size_t temps = count_temp_files(folder);
        CHECK(temps <= 1);
        kills_with_temp_file += temps > 0;
        if (!fs::exists(path)) {
            CHECK(next_version == 0);  // killed before the first save completed
            continue;
        }
        const poisson::io::checkpoint c = poisson::io::checkpoint::load(path);
        const std::uint64_t v = c.get_u64("version");
        CAPTURE(v);
        CHECK(v >= last_seen);  // the file never goes back to an older version
        CHECK(crash_test::is_complete_version(c, v));
        last_seen = v;
        next_version = v + 1;
    }
    MESSAGE(kills << " kills, " << kills_with_temp_file << " of them during a save that left a "
                  << "temp file; last version on disk " << last_seen);
    CHECK(next_version > 0);  // some saves completed, so the check above did run
    CHECK(kills_with_temp_file >= min_mid_save);  // and some kills hit a save in progress

    // A save that runs to completion leaves no temp file behind.
    const pid_t pid = start_writer(path, next_version, 1);
    const int status = wait_for(pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CHECK(count_temp_files(folder) == 0);
    CHECK(crash_test::is_complete_version(poisson::io::checkpoint::load(path), next_version));
}
