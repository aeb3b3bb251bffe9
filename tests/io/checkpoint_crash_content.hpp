#pragma once

// The checkpoint contents written by checkpoint_crash_writer and checked by
// checkpoint_crash_test: each version is recognisable in full from its number.

#include <cstddef>
#include <cstdint>
#include <string>

#include <xtensor/xarray.hpp>

#include "poisson/io/checkpoint.hpp"

namespace crash_test {

/// 3 MB of floats per checkpoint: large enough that a save takes many write calls.
inline constexpr std::size_t payload_size = 768 * 1024;

/// Element i of version v: exact in float (below 2^24) and different between neighbours.
inline float element(std::uint64_t v, std::size_t i) {
    return static_cast<float>((v * 7919u + i) % 1000003u);
}

inline poisson::io::checkpoint make_version(std::uint64_t v) {
    xt::xarray<float> payload = xt::xarray<float>::from_shape({payload_size});
    for (std::size_t i = 0; i < payload_size; ++i) {
        payload(i) = element(v, i);
    }
    poisson::io::checkpoint c;
    c.put_u64("version", v);
    c.put_text("note", "version " + std::to_string(v));
    c.put("payload", payload);
    return c;
}

/// Whether `c` is exactly version `v` as make_version builds it.
inline bool is_complete_version(const poisson::io::checkpoint& c, std::uint64_t v) {
    if (c.names().size() != 3 || c.get_text("note") != "version " + std::to_string(v)) {
        return false;
    }
    const xt::xarray<float> payload = c.get<float>("payload");
    if (payload.dimension() != 1 || payload.size() != payload_size) {
        return false;
    }
    for (std::size_t i = 0; i < payload_size; ++i) {
        if (payload(i) != element(v, i)) {
            return false;
        }
    }
    return true;
}

}  // namespace crash_test
