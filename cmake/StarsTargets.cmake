# Helpers for stars' own targets. Warnings apply to stars' code only; third-party headers
# come in as SYSTEM includes through their imported targets.
function(stars_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
endfunction()

# A command-line tool (apps/, bench/): one .cpp named after the tool with '-' -> '_',
# linked to stars and CLI11, sharing the library's precompiled header.
function(stars_add_tool name)
  string(REPLACE "-" "_" source ${name})
  add_executable(${name} ${source}.cpp)
  target_link_libraries(${name} PRIVATE stars::stars CLI11::CLI11)
  target_precompile_headers(${name} REUSE_FROM stars)
  stars_set_warnings(${name})
endfunction()
