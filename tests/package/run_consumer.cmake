# Drives one package test, stage by stage, so that a failure names the stage that failed:
#   cmake -DTEST_NAME=... -DMODE=install|subdirectory -DSOURCE_DIR=... -DBUILD_DIR=...
#         -DWORK_DIR=... -DCONSUMER_DIR=... -DVERSION=... -DGENERATOR=... -DCXX_COMPILER=...
#         -P run_consumer.cmake
#
# install:      installs BUILD_DIR into WORK_DIR/prefix, checks the installed tree, then
#               builds the consumer with find_package against that prefix alone.
# subdirectory: builds the consumer with add_subdirectory(SOURCE_DIR).
# The consumer is built without a build type, as a user's first try would be, which also
# keeps it quick to compile.
cmake_minimum_required(VERSION 3.20)

foreach(_var TEST_NAME MODE SOURCE_DIR BUILD_DIR WORK_DIR CONSUMER_DIR VERSION GENERATOR
             CXX_COMPILER)
    if(NOT DEFINED ${_var})
        message(FATAL_ERROR "run_consumer.cmake: -D${_var}=... is required")
    endif()
endforeach()
if(NOT MODE MATCHES "^(install|subdirectory)$")
    message(FATAL_ERROR "run_consumer.cmake: MODE must be install or subdirectory, not ${MODE}")
endif()

set(_name ${TEST_NAME})
set(_prefix ${WORK_DIR}/prefix)
set(_consumer_build ${WORK_DIR}/consumer-build)

function(fail stage text)
    message(FATAL_ERROR "${_name}: FAILED at stage '${stage}': ${text}")
endfunction()

# Runs a command as the named stage; on failure, prints the stage, the command and its output.
function(run_stage stage)
    message(STATUS "${_name}: ${stage}")
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE result
        OUTPUT_VARIABLE output
        ERROR_VARIABLE output)
    if(NOT result EQUAL 0)
        string(REPLACE ";" " " command "${ARGN}")
        fail("${stage}" "exit ${result} from\n  ${command}\n${output}")
    endif()
    set(stage_output "${output}" PARENT_SCOPE)
endfunction()

# Reads one entry of the consumer's CMakeCache.txt into `out`.
function(read_consumer_cache name out)
    load_cache(${_consumer_build} READ_WITH_PREFIX _cache_ ${name})
    set(${out} "${_cache_${name}}" PARENT_SCOPE)
endfunction()

# Asks the installed version file, as find_package would, whether it satisfies `wanted`.
# CMAKE_SIZEOF_VOID_P differs from the build's on purpose: the package is header-only and
# declared ARCH_INDEPENDENT, so a 32-bit consumer must accept it too.
function(check_version_file file wanted expect_compatible)
    string(REGEX MATCH "^([0-9]+)\\.([0-9]+)(\\.([0-9]+))?" _ "${wanted}")
    set(PACKAGE_FIND_NAME poisson_noise)
    set(PACKAGE_FIND_VERSION "${wanted}")
    set(PACKAGE_FIND_VERSION_MAJOR "${CMAKE_MATCH_1}")
    set(PACKAGE_FIND_VERSION_MINOR "${CMAKE_MATCH_2}")
    set(PACKAGE_FIND_VERSION_PATCH "${CMAKE_MATCH_4}")
    set(PACKAGE_FIND_VERSION_COUNT 3)
    set(CMAKE_SIZEOF_VOID_P 4)
    unset(PACKAGE_VERSION_COMPATIBLE)
    unset(PACKAGE_VERSION_UNSUITABLE)
    include(${file})
    if(NOT PACKAGE_VERSION STREQUAL VERSION)
        fail("check version file" "it says ${PACKAGE_VERSION}, version.hpp says ${VERSION}")
    endif()
    if(PACKAGE_VERSION_UNSUITABLE)
        fail("check version file" "a 32-bit consumer is refused a header-only package")
    endif()
    if(expect_compatible AND NOT PACKAGE_VERSION_COMPATIBLE)
        fail("check version file" "${VERSION} is refused to a request for ${wanted}")
    endif()
    if(NOT expect_compatible AND PACKAGE_VERSION_COMPATIBLE)
        fail("check version file" "${VERSION} is accepted for a request for ${wanted}")
    endif()
endfunction()

# Start from nothing, so that files left by an earlier run can hide a missing one.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

set(_configure_args
    -S ${CONSUMER_DIR} -B ${_consumer_build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    # Only the prefix given may supply the package, never a registry of earlier builds.
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

if(MODE STREQUAL "install")
    run_stage("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${_prefix})

    message(STATUS "${_name}: check installed headers")
    file(GLOB_RECURSE _sources RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/*)
    file(GLOB_RECURSE _installed RELATIVE ${_prefix}/include ${_prefix}/include/*)
    set(_missing ${_sources})
    if(_installed)
        list(REMOVE_ITEM _missing ${_installed})
    endif()
    if(_missing)
        string(REPLACE ";" "\n  " _missing "${_missing}")
        fail("check installed headers" "not installed:\n  ${_missing}")
    endif()
    list(LENGTH _sources _count)
    message(STATUS "${_name}: all ${_count} files under include/ are installed")

    message(STATUS "${_name}: check version file")
    file(GLOB_RECURSE _version_files ${_prefix}/*/poisson_noiseConfigVersion.cmake)
    list(LENGTH _version_files _count)
    if(NOT _count EQUAL 1)
        fail("check version file" "expected one poisson_noiseConfigVersion.cmake in ${_prefix},"
             " found ${_count}: ${_version_files}")
    endif()
    get_filename_component(_config_dir ${_version_files} DIRECTORY)
    foreach(_file poisson_noiseConfig.cmake poisson_noise_targets.cmake)
        if(NOT EXISTS ${_config_dir}/${_file})
            fail("check version file" "${_file} is not installed beside it in ${_config_dir}")
        endif()
    endforeach()
    # The package promises SameMinorVersion: any request with its major and minor numbers
    # and no newer patch is met, a request for another minor or major version is not.
    string(REGEX MATCH "^([0-9]+)\\.([0-9]+)\\.([0-9]+)$" _ "${VERSION}")
    set(_major ${CMAKE_MATCH_1})
    set(_minor ${CMAKE_MATCH_2})
    math(EXPR _next_minor "${_minor} + 1")
    math(EXPR _next_major "${_major} + 1")
    math(EXPR _next_patch "${CMAKE_MATCH_3} + 1")
    check_version_file(${_version_files} ${VERSION} TRUE)
    check_version_file(${_version_files} ${_major}.${_minor} TRUE)
    check_version_file(${_version_files} ${_major}.${_minor}.${_next_patch} FALSE)
    check_version_file(${_version_files} ${_major}.${_next_minor} FALSE)
    check_version_file(${_version_files} ${_next_major}.${_minor} FALSE)

    run_stage("configure consumer" ${CMAKE_COMMAND} ${_configure_args}
        -DCMAKE_PREFIX_PATH=${_prefix})
    read_consumer_cache(poisson_noise_DIR _found)
    if(NOT _found STREQUAL _config_dir)
        fail("configure consumer" "found the package in '${_found}', not in ${_config_dir}")
    endif()
else()
    run_stage("configure consumer" ${CMAKE_COMMAND} ${_configure_args}
        -DPOISSON_SOURCE_DIR=${SOURCE_DIR})
    # As a subproject the library must keep its own programs out of the user's build and
    # leave the user's settings alone.
    read_consumer_cache(POISSON_BUILD_TESTS _tests)
    if(_tests)
        fail("configure consumer" "POISSON_BUILD_TESTS is ${_tests} in a subproject")
    endif()
    read_consumer_cache(CMAKE_BUILD_TYPE _type)
    if(_type)
        fail("configure consumer" "the subproject set the user's CMAKE_BUILD_TYPE to ${_type}")
    endif()
endif()

run_stage("build consumer" ${CMAKE_COMMAND} --build ${_consumer_build})
run_stage("run consumer" ${_consumer_build}/consumer)
message(STATUS "${_name}: ${stage_output}")
message(STATUS "${_name}: passed")
