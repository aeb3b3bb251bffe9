#pragma once

// Three settings that OpenBLAS and the OpenMP runtime read only when they are loaded, so the
// examples restart themselves once, with them set, when one is missing:
//
// - OPENBLAS_CORETYPE. OpenBLAS 0.3.21 (Debian 12) does not recognise some recent Intel
//   processors and falls back to its oldest x86-64 kernels ("Prescott", SSE3), which run
//   sgemm about four times slower than the AVX-512 ones the processor supports. Set
//   OPENBLAS_CORETYPE yourself to choose, or POISSON_KEEP_BLAS_CORE=1 to keep what OpenBLAS
//   detected.
// - OMP_WAIT_POLICY=passive, when OpenBLAS is its pthread build. The layers' loops run on
//   OpenMP threads and the matrix products on OpenBLAS's own threads. By default an OpenMP
//   thread spins for a while after each parallel loop, on the very cores the BLAS threads
//   are about to need, and a training step alternates the two hundreds of times; passive
//   waiting made a step about 15% faster on two cores. (With an OpenMP build of OpenBLAS
//   both share one thread team, and spinning is what keeps it quick: nothing is set.) Set
//   OMP_WAIT_POLICY yourself to choose.
// - OPENBLAS_THREAD_TIMEOUT=20, for the same pthread build: the mirror image. After each
//   product OpenBLAS's threads spin for 2^28 cycles (about a tenth of a second) by default,
//   through the noise layers' OpenMP loops that follow; 2^20 cycles (under half a millisecond)
//   still bridges the short gaps between the products of one layer. Measured on two cores:
//   noise-model steps 10 to 20% faster, the Baseline's no slower. Set it yourself to choose.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <unistd.h>

extern "C" char* openblas_get_corename();
// 0 sequential, 1 pthreads, 2 OpenMP; weak, so a BLAS without it still links.
extern "C" int openblas_get_parallel() __attribute__((weak));

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

/// The kernel family to restart with, or nullptr when the environment or OpenBLAS's own
/// choice should stand.
inline const char* blas_core_to_set() {
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("POISSON_KEEP_BLAS_CORE")) {
        return nullptr;
    }
    return better_blas_core();
}

/// Whether to restart with OMP_WAIT_POLICY=passive: unset, and BLAS threads of their own.
inline bool wait_policy_to_set() {
    return !std::getenv("OMP_WAIT_POLICY") && openblas_get_parallel != nullptr &&
           openblas_get_parallel() == 1;
}

/// Whether to restart with OPENBLAS_THREAD_TIMEOUT set: unset, and BLAS threads of their own.
inline bool blas_timeout_to_set() {
    return !std::getenv("OPENBLAS_THREAD_TIMEOUT") && openblas_get_parallel != nullptr &&
           openblas_get_parallel() == 1;
}

/// Restarts the program once with OPENBLAS_CORETYPE set when OpenBLAS fell back to its
/// oldest kernels on a CPU that has better ones, and with OMP_WAIT_POLICY=passive and
/// OPENBLAS_THREAD_TIMEOUT=20 when they are unset and OpenBLAS runs its own threads. Returns
/// normally when none applies (as in the restarted process, which finds them set) or when
/// the restart fails.
inline void use_fast_blas_kernels(char** argv) {
    const char* core = blas_core_to_set();
    const bool passive = wait_policy_to_set();
    const bool timeout = blas_timeout_to_set();
    if (!core && !passive && !timeout) return;
    if (core) {
        std::fprintf(stderr, "note: OpenBLAS chose its %s kernels on this CPU; restarting with "
                             "OPENBLAS_CORETYPE=%s (POISSON_KEEP_BLAS_CORE=1 keeps them)\n",
                     openblas_get_corename(), core);
        setenv("OPENBLAS_CORETYPE", core, 1);
    }
    if (passive) {
        std::fprintf(stderr, "note: restarting with OMP_WAIT_POLICY=passive, so that idle "
                             "OpenMP threads leave the cores to OpenBLAS's threads\n");
        setenv("OMP_WAIT_POLICY", "passive", 1);
    }
    if (timeout) {
        std::fprintf(stderr, "note: restarting with OPENBLAS_THREAD_TIMEOUT=20, so that idle "
                             "OpenBLAS threads leave the cores to the OpenMP loops\n");
        setenv("OPENBLAS_THREAD_TIMEOUT", "20", 1);
    }
    execv("/proc/self/exe", argv);
    std::fprintf(stderr, "note: restart failed; continuing with the %s kernels and the "
                         "default thread waits\n",
                 openblas_get_corename());
}

}  // namespace examples
