#pragma once

// Small file helpers shared by the examples: every file is written atomically (a temp file
// renamed over the target), so a crash never leaves half a CSV, JSON or PNG behind.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "poisson/io/atomic_file.hpp"

namespace examples {

inline void write_text_file(const std::filesystem::path& path, std::string_view text) {
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    poisson::io::write_file_atomically(path, std::span(bytes, text.size()), "write_text_file");
}

/// True when the `gnuplot` program can be run.
inline bool have_gnuplot() {
    return std::system("gnuplot --version > /dev/null 2>&1") == 0;
}

/// Runs a gnuplot script; its PNG output should go to a temp name the script's caller renames.
inline bool run_gnuplot(const std::filesystem::path& script) {
    const std::string command = "gnuplot '" + script.string() + "' 2>&1";
    return std::system(command.c_str()) == 0;
}

/// Renders `script` (which must write to `png_temp`) and moves the picture to `png`.
inline bool render_png(const std::filesystem::path& script, const std::filesystem::path& png_temp,
                       const std::filesystem::path& png) {
    std::error_code error;
    if (!run_gnuplot(script)) {
        std::filesystem::remove(png_temp, error);  // never leave half a picture behind
        return false;
    }
    std::filesystem::rename(png_temp, png, error);
    return !error;
}

}  // namespace examples
