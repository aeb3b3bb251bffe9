#include <doctest/doctest.h>

#include <cmath>

#include "poisson/temperature/concepts.hpp"
#include "poisson/temperature/constant.hpp"
#include "poisson/temperature/exponential.hpp"
#include "poisson/temperature/linear.hpp"

static_assert(poisson::temperature_schedule<poisson::constant_temperature>);
static_assert(poisson::temperature_schedule<poisson::exponential_annealing>);
static_assert(poisson::temperature_schedule<poisson::linear_annealing>);

TEST_CASE("constant_temperature: the same tau at every step") {
    const poisson::constant_temperature schedule(0.7);
    CHECK(schedule.temperature(0) == 0.7);
    CHECK(schedule.temperature(123456) == 0.7);
}

TEST_CASE("exponential_annealing: tau0 exp(-r t) with t a multiple of every, floored") {
    const poisson::exponential_annealing schedule(1.0, 0.5, 1e-4, 1000);
    CHECK(schedule.temperature(0) == 1.0);
    CHECK(schedule.temperature(999) == 1.0);
    CHECK(schedule.temperature(1000) == doctest::Approx(std::exp(-0.1)));
    CHECK(schedule.temperature(2500) == doctest::Approx(std::exp(-0.2)));
    CHECK(schedule.temperature(7000) == 0.5);  // exp(-0.7) = 0.497 is below the floor
}

TEST_CASE("linear_annealing: tau0 - slope t with t a multiple of every, floored") {
    const poisson::linear_annealing schedule(2.0, 0.5, 0.001, 100);
    CHECK(schedule.temperature(0) == 2.0);
    CHECK(schedule.temperature(150) == doctest::Approx(1.9));
    CHECK(schedule.temperature(1000) == doctest::Approx(1.0));
    CHECK(schedule.temperature(5000) == 0.5);
}

TEST_CASE("temperature schedules: refuse impossible settings") {
    using poisson::invalid_argument;
    CHECK_THROWS_WITH_AS(poisson::constant_temperature(0.0),
                         "constant_temperature: tau is 0, expected a finite temperature > 0",
                         invalid_argument);
    CHECK_THROWS_AS(poisson::constant_temperature(-1.0), invalid_argument);
    CHECK_THROWS_AS(poisson::constant_temperature{INFINITY}, invalid_argument);
    CHECK_THROWS_AS(poisson::exponential_annealing(1.0, 0.0, 0.1), invalid_argument);
    CHECK_THROWS_AS(poisson::exponential_annealing(1.0, 0.5, -0.1), invalid_argument);
    CHECK_THROWS_WITH(poisson::exponential_annealing(1.0, 0.5, 0.1, 0),
                      "exponential_annealing: every is 0, expected at least 1 step");
    CHECK_THROWS_AS((poisson::linear_annealing{NAN, 0.5, 0.1}), invalid_argument);
    CHECK_THROWS_AS(poisson::linear_annealing(1.0, 0.5, -1.0), invalid_argument);
}
