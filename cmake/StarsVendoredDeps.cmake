# Dependencies from a folder made by scripts/vendor-deps.sh instead of installed packages:
# CLI11, nlohmann/json, spdlog and fmt as header-only interface targets with the names
# their packages export, and GoogleTest built from source with the project's flags (and
# so with LibTorch's C++ ABI setting).
set(_inc ${STARS_DEPS_DIR}/include)
# LibTorch 2.x wheels carry their own {fmt} (11) in their include folder, which the vendored
# spdlog (1.10, built for fmt 9) cannot use: the vendored headers go first on every target.
include_directories(BEFORE SYSTEM ${_inc})
foreach(dep CLI11::CLI11 nlohmann_json::nlohmann_json spdlog::spdlog)
  if(NOT TARGET ${dep})
    add_library(${dep} INTERFACE IMPORTED GLOBAL)
    set_target_properties(${dep} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${_inc})
  endif()
endforeach()
set_property(TARGET spdlog::spdlog PROPERTY INTERFACE_COMPILE_DEFINITIONS
  SPDLOG_HEADER_ONLY SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY)
set(CLI11_FOUND TRUE)
set(nlohmann_json_FOUND TRUE)
set(spdlog_FOUND TRUE)
if(STARS_BUILD_TESTS)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(${STARS_DEPS_DIR}/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  if(NOT TARGET GTest::gtest)
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
  set(GTest_FOUND TRUE)
endif()
