# Smoke test of poisson_histograms: cmake -DPROGRAM=<exe> -DOUT=<folder> -P <this file>.

file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${PROGRAM}" --samples 2000 --out "${OUT}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "poisson_histograms exited with ${rc}:\n${out}\n${err}")
endif()

set(columns "count,exact_pmf,poisson_samples,hard,soft_tau_0.1,soft_tau_0.5,soft_tau_1")
set(expected fixed_rate5 batch_max_rate1 batch_max_rate5 batch_max_rate20
    tail_bound_rate1 tail_bound_rate5 tail_bound_rate20)
foreach(name ${expected})
    set(csv "${OUT}/${name}.csv")
    if(NOT EXISTS "${csv}")
        message(FATAL_ERROR "missing ${csv}")
    endif()
    file(STRINGS "${csv}" header LIMIT_COUNT 1)
    if(NOT header STREQUAL columns)
        message(FATAL_ERROR "${csv} starts with \"${header}\"")
    endif()
endforeach()
if(NOT EXISTS "${OUT}/figure1.gp")
    message(FATAL_ERROR "missing ${OUT}/figure1.gp")
endif()

# Bad command lines: a clear message and exit status 2.
foreach(args "--samples;-5" "--samples;0" "--bogus" "--seed")
    execute_process(COMMAND "${PROGRAM}" ${args} --out "${OUT}"
        RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
    if(NOT rc EQUAL 2 OR NOT err MATCHES "poisson_histograms: ")
        message(FATAL_ERROR "\"${args}\" gave status ${rc} and \"${err}\", expected 2")
    endif()
endforeach()
