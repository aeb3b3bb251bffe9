# Builds TARGET in BUILD_DIR and succeeds only if the build fails with a message that
# matches EXPECTED: the check that a wrong policy is refused with a readable error.
execute_process(
    COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
if(result EQUAL 0)
    message(FATAL_ERROR "${TARGET} compiled, but it must be rejected")
endif()
if(NOT output MATCHES "${EXPECTED}")
    message(FATAL_ERROR "${TARGET} failed to compile without naming ${EXPECTED}:\n${output}")
endif()
message(STATUS "${TARGET} was rejected, naming ${EXPECTED}")
