#pragma once

// OpenBLAS 0.3.21 (Debian 12) does not recognise some recent Intel processors and falls back
// to its oldest x86-64 kernels ("Prescott", SSE3), which run sgemm about four times slower
// than the AVX-512 ones the processor supports. OpenBLAS picks its kernels when the library
// is loaded, from the OPENBLAS_CORETYPE environment variable, so the examples restart
// themselves once with that variable set. Set OPENBLAS_CORETYPE yourself to choose, or
// POISSON_KEEP_BLAS_CORE=1 to keep what OpenBLAS detected. See docs/performance.md.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <unistd.h>

extern "C" char* openblas_get_corename();

namespace examples {

/// The OpenBLAS kernel family this CPU can run, or nullptr to keep OpenBLAS's choice.
inline const char* better_blas_core() {
    if (std::string_view(openblas_get_corename()) != "Prescott") return nullptr;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return nullptr;
}

/// Restarts the program with OPENBLAS_CORETYPE set when OpenBLAS fell back to its oldest
/// kernels on a CPU that has better ones. Returns normally otherwise.
inline void use_fast_blas_kernels(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("POISSON_KEEP_BLAS_CORE")) return;
    const char* core = better_blas_core();
    if (!core) return;
    std::fprintf(stderr, "note: OpenBLAS chose its %s kernels on this CPU; restarting with "
                         "OPENBLAS_CORETYPE=%s (POISSON_KEEP_BLAS_CORE=1 keeps them)\n",
                 openblas_get_corename(), core);
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
    std::fprintf(stderr, "note: restart failed; continuing with the %s kernels\n",
                 openblas_get_corename());
}

}  // namespace examples
