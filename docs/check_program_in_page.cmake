# Checks that a Markdown page shows a program exactly as its source file holds it.
#   cmake -DPAGE=<page.md> -DPROGRAM=<file.cpp> -P check_program_in_page.cmake
# The page must contain the whole file as one ```cpp fenced block.
file(READ "${PAGE}" page)
file(READ "${PROGRAM}" program)
string(FIND "${page}" "```cpp\n${program}```\n" at)
if(at EQUAL -1)
    get_filename_component(name "${PROGRAM}" NAME)
    message(FATAL_ERROR "${PAGE} does not show ${name} as it is; copy the file into its "
                        "```cpp block again")
endif()
