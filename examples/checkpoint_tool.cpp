// checkpoint_tool: looks inside checkpoint files.
//
//   checkpoint_tool list FILE                 every record with its type and shape
//   checkpoint_tool compare A B [PREFIX...]   exit 0 if the records of A and B whose names
//                                             start with a PREFIX (default: all) are equal,
//                                             bit for bit; 1 and the first difference if not

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "poisson/io/checkpoint.hpp"

namespace {

using poisson::io::checkpoint;

int list(const char* path) {
    const auto file = checkpoint::load(path);
    for (const auto& name : file.names()) {
        std::printf("%-40s %s\n", name.c_str(), file.describe(name).c_str());
    }
    return 0;
}

bool selected(const std::string& name, const std::vector<std::string>& prefixes) {
    if (prefixes.empty()) return true;
    for (const auto& p : prefixes) {
        if (name.starts_with(p)) return true;
    }
    return false;
}

int compare(const char* path_a, const char* path_b, const std::vector<std::string>& prefixes) {
    const auto a = checkpoint::load(path_a);
    const auto b = checkpoint::load(path_b);
    std::size_t compared = 0;
    for (const auto* names : {&a, &b}) {
        for (const auto& name : names->names()) {
            if (!selected(name, prefixes)) continue;
            if (!a.same_record(b, name)) {
                std::printf("differ: %s (%s in %s, %s in %s)\n", name.c_str(),
                            a.contains(name) ? a.describe(name).c_str() : "absent", path_a,
                            b.contains(name) ? b.describe(name).c_str() : "absent", path_b);
                return 1;
            }
            ++compared;
        }
    }
    std::printf("equal: %zu records\n", compared / 2);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view command = argc > 1 ? argv[1] : "";
    try {
        if (command == "list" && argc == 3) return list(argv[2]);
        if (command == "compare" && argc >= 4) {
            return compare(argv[2], argv[3], std::vector<std::string>(argv + 4, argv + argc));
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "checkpoint_tool: %s\n", error.what());
        return 2;
    }
    std::fprintf(stderr, "usage: checkpoint_tool list FILE\n"
                         "       checkpoint_tool compare A B [PREFIX...]\n");
    return 2;
}
