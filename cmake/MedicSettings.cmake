# SPDX-License-Identifier: Apache-2.0
# INTERFACE targets that carry the project's compile settings; every medic target links them.

add_library(medic_settings INTERFACE)
target_compile_features(medic_settings INTERFACE cxx_std_20)
target_include_directories(medic_settings INTERFACE
  "${PROJECT_SOURCE_DIR}"
  "${PROJECT_BINARY_DIR}/generated")
target_compile_definitions(medic_settings INTERFACE MSGPACK_NO_BOOST SPDLOG_FMT_EXTERNAL)

add_library(medic_warnings INTERFACE)
target_compile_options(medic_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(MEDIC_WERROR)
  target_compile_options(medic_warnings INTERFACE -Werror)
endif()
target_link_libraries(medic_settings INTERFACE medic_warnings)

if(MEDIC_SANITIZE)
  string(REPLACE "," ";" _medic_sanitizers "${MEDIC_SANITIZE}")
  foreach(_s IN LISTS _medic_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "MEDIC_SANITIZE: unknown sanitizer '${_s}' (address, undefined, thread, leak)")
    endif()
  endforeach()
  add_compile_options(-fsanitize=${MEDIC_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MEDIC_SANITIZE})
endif()

# Build facts the programs print with --version.
configure_file("${PROJECT_SOURCE_DIR}/cmake/build_info.hpp.in"
               "${PROJECT_BINARY_DIR}/generated/shared/build_info.hpp" @ONLY)
