#pragma once

/// @file
/// @brief Replacing a file so that a crash at any moment leaves either the old or the new one.
///
/// POSIX only: the guarantee rests on `rename(2)` being atomic within one file system and on
/// `fsync(2)` of the file and of its folder.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "poisson/errors.hpp"

/// @brief Files: checkpoints and crash-safe replacement of a file.
namespace poisson::io {

namespace detail {

inline std::string errno_text(int err) { return std::generic_category().message(err); }

/// Temporary files for `target` are dot files in the same folder: rename is atomic only
/// within one file system, and the leading dot keeps them out of ordinary listings.
inline std::string temp_prefix(const std::filesystem::path& target) {
    // Appended piece by piece: `"." + name + ".tmp-"` trips a false -Wrestrict in GCC 12.
    std::string prefix = ".";
    prefix += target.filename().string();
    prefix += ".tmp-";
    return prefix;
}

/// Owns a file descriptor; closes it (ignoring errors) unless `close_checked` did.
class unique_fd {
public:
    explicit unique_fd(int fd) noexcept : m_fd(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }

    int get() const noexcept { return m_fd; }

    /// Closes now and returns the errno of a failed close, 0 on success: a failed close can
    /// be the first report of a failed write on some file systems.
    int close_checked() noexcept {
        const int rc = ::close(m_fd);
        m_fd = -1;
        return rc == 0 ? 0 : errno;
    }

private:
    int m_fd;
};

/// Writes every byte, resuming after partial writes and signal interruptions.
/// Returns 0 or the errno of the failure.
inline int write_all(int fd, std::span<const std::byte> bytes) noexcept {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? errno : EIO;
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return 0;
}

/// Removes temporary files that earlier saves of `target` left behind when they were killed.
/// Failures are ignored: a leftover temp file wastes space but never replaces the target.
inline void remove_stale_temps(const std::filesystem::path& target) {
    const std::string prefix = temp_prefix(target);
    std::error_code ec;
    std::filesystem::directory_iterator it(target.parent_path(), ec);
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (it->path().filename().string().starts_with(prefix)) {
            std::error_code ignored;
            std::filesystem::remove(it->path(), ignored);
        }
    }
}

/// Creates a new temp file next to `target`; the name holds the process id and a counter so
/// that threads of one process never collide.
inline int create_temp(const std::filesystem::path& target, std::filesystem::path& temp) {
    static std::atomic<unsigned long> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp = target.parent_path() / (temp_prefix(target) + std::to_string(::getpid()) + "-" +
                                       std::to_string(counter++));
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) {
            return fd;
        }
    }
    return -1;
}

/// Flushes the folder entry of a rename to disk. File systems that cannot sync a folder
/// answer EINVAL; that is not an error of ours.
inline int fsync_folder(const std::filesystem::path& folder) noexcept {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    unique_fd owner(fd);
    if (::fsync(fd) != 0 && errno != EINVAL) {
        return errno;
    }
    return owner.close_checked();
}

}  // namespace detail

/// @brief Replaces the file at `target` by one holding exactly `bytes`, atomically.
///
/// Steps: remove stale temp files of `target` (`.<name>.tmp-*` in the same folder, left by
/// a save that was killed), write a new temp file there, `fsync` it, `rename` it over
/// `target`, `fsync` the folder. A crash at any moment leaves either the previous file or
/// the new one at `target`, never a mix; at worst one temp file remains until the next save
/// of the same target. On any error the temp file is removed and the previous file is left
/// intact.
///
/// Two processes saving the same target at the same time are not supported: one may remove
/// the other's temp file, whose save then fails with an error (the target stays whole).
///
/// @param target the file to replace or create; its folder must exist.
/// @param bytes the complete new contents.
/// @param who prefix of error messages, e.g. `checkpoint::save`.
/// @throws poisson::io_error naming `target` and the failed step.
inline void write_file_atomically(const std::filesystem::path& target,
                                  std::span<const std::byte> bytes,
                                  std::string_view who = "write_file_atomically") {
    const std::filesystem::path absolute = std::filesystem::absolute(target);
    const auto fail = [&](std::string_view step, int err) {
        return io_error(std::string(who) + " \"" + target.string() + "\": " + std::string(step) +
                        ": " + detail::errno_text(err));
    };
    detail::remove_stale_temps(absolute);

    std::filesystem::path temp;
    const int fd = detail::create_temp(absolute, temp);
    if (fd < 0) {
        const int err = errno;
        throw fail("cannot create a temporary file in " + absolute.parent_path().string(), err);
    }
    detail::unique_fd file(fd);
    const auto fail_and_clean = [&](std::string_view step, int err) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        return fail(step, err);
    };
    if (const int err = detail::write_all(file.get(), bytes)) {
        throw fail_and_clean("cannot write", err);
    }
    if (::fsync(file.get()) != 0) {
        const int err = errno;
        throw fail_and_clean("cannot sync", err);
    }
    if (const int err = file.close_checked()) {
        throw fail_and_clean("cannot close", err);
    }
    if (::rename(temp.c_str(), absolute.c_str()) != 0) {
        const int err = errno;
        throw fail_and_clean("cannot rename the temporary file over it", err);
    }
    if (const int err = detail::fsync_folder(absolute.parent_path())) {
        throw fail("replaced, but its folder could not be synced", err);
    }
}

}  // namespace poisson::io
