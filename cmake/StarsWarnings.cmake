# Warnings apply to stars' own code only; third-party headers are included as SYSTEM.
function(stars_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
endfunction()
