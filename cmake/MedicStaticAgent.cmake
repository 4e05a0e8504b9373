# SPDX-License-Identifier: Apache-2.0
# MEDIC_AGENT_STATIC: medic-agent links libstdc++, libgcc and its third-party libraries from
# Debian's static archives, unused sections garbage-collected: ~35 shared libraries become 3
# (libc, libm, ld.so), without their per-library headers, symbol tables, relocations and GOTs
# resident (RSS 13.8 -> 9.9 MiB with agent/main.cpp's start-up fixes; most of what is left is
# the text the kernel's 64 KiB fault-around maps around the hot code). glibc stays shared (a
# static glibc breaks NSS and getaddrinfo). Debian ships no archive for libsystemd, spdlog, fmt or MIT
# Kerberos: spdlog and fmt are compiled here from their headers, sd_notify() and
# sd_watchdog_enabled() come from static_agent/sd_notify_lite.cpp, and ZeroMQ's GSSAPI calls (a
# mechanism the agent never uses; it speaks CURVE) fail from static_agent/gssapi_absent.cpp. That
# keeps 13 shared libraries (~0.8 MiB of RSS) out of the agent.
#
# Every other program keeps the shared libraries. Each dependency target lists both forms and the
# program being linked picks one with its MEDIC_STATIC_LINK property (medic_link_statically()).
# Compile flags are the same either way, so one build serves the agent and everything else.
# Included by MedicDependencies.cmake before its find_package() calls: the targets defined here
# stand in for the ones the packages' own config files would define (which then skip theirs).

if(CMAKE_BUILD_TYPE STREQUAL "Release")
  set(_medic_static_default ON)
else()
  set(_medic_static_default OFF)
endif()
option(MEDIC_AGENT_STATIC
       "Link medic-agent statically (libstdc++ and Debian's .a archives) for a small RSS"
       ${_medic_static_default})
if(NOT MEDIC_AGENT_STATIC)
  function(medic_link_statically target)
  endfunction()
  function(medic_static_agent_pkgconfig)
  endfunction()
  return()
endif()

set(_medic_static "$<BOOL:$<TARGET_PROPERTY:MEDIC_STATIC_LINK>>")

# The archive `name` (e.g. libzmq.a) or a configure error naming the Debian package to install.
function(medic_static_archive var name package)
  find_library(${var} NAMES ${name} NO_CACHE)
  if(NOT ${var})
    message(FATAL_ERROR "MEDIC_AGENT_STATIC: ${name} not found (Debian package ${package}; "
                        "scripts/setup.sh installs it), or configure with -DMEDIC_AGENT_STATIC=OFF")
  endif()
  set(${var} "${${var}}" PARENT_SCOPE)
endfunction()

# A shared library found the usual way, for the SHARED side.
function(medic_shared_library var name)
  find_library(${var} NAMES ${name} NO_CACHE REQUIRED)
  set(${var} "${${var}}" PARENT_SCOPE)
endfunction()

# INTERFACE_LINK_LIBRARIES of `target`: `STATIC` items for a MEDIC_STATIC_LINK program, `SHARED`
# items for every other one.
function(medic_dual_link target)
  cmake_parse_arguments(ARG "" "" "STATIC;SHARED" ${ARGN})
  set(items)
  foreach(item IN LISTS ARG_STATIC)
    list(APPEND items "$<${_medic_static}:${item}>")
  endforeach()
  foreach(item IN LISTS ARG_SHARED)
    list(APPEND items "$<$<NOT:${_medic_static}>:${item}>")
  endforeach()
  set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES "${items}")
endfunction()

find_package(Threads REQUIRED)

medic_static_archive(_medic_a_zmq libzmq.a libzmq3-dev)
medic_static_archive(_medic_a_sodium libsodium.a libsodium-dev)
medic_static_archive(_medic_a_pgm libpgm.a libpgm-dev)
medic_static_archive(_medic_a_norm libnorm.a libnorm-dev)
medic_static_archive(_medic_a_protokit libprotokit.a libnorm-dev)
medic_static_archive(_medic_a_bsd libbsd.a libbsd-dev)
medic_static_archive(_medic_a_md libmd.a libmd-dev)
medic_static_archive(_medic_a_uv libuv_a.a libuv1-dev)
medic_static_archive(_medic_a_sqlite libsqlite3.a libsqlite3-dev)
medic_static_archive(_medic_a_yaml libyaml-cpp.a libyaml-cpp-dev)
medic_static_archive(_medic_a_re2 libre2.a libre2-dev)
medic_static_archive(_medic_a_hs libhs.a libhyperscan-dev)

# fmt and spdlog: Debian ships no archives, so compile them from their headers (once, here)
# with the definitions every medic object already uses.
add_library(medic_static_fmt STATIC EXCLUDE_FROM_ALL
            "${CMAKE_CURRENT_LIST_DIR}/static_agent/fmt_static.cpp")
target_compile_definitions(medic_static_fmt PRIVATE FMT_SHARED)
add_library(medic_static_spdlog STATIC EXCLUDE_FROM_ALL
            "${CMAKE_CURRENT_LIST_DIR}/static_agent/spdlog_static.cpp")
target_compile_definitions(medic_static_spdlog
                           PRIVATE SPDLOG_SHARED_LIB SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL FMT_SHARED)
add_library(medic_static_sd_notify STATIC EXCLUDE_FROM_ALL
            "${CMAKE_CURRENT_LIST_DIR}/static_agent/sd_notify_lite.cpp")
add_library(medic_static_gssapi_absent STATIC EXCLUDE_FROM_ALL
            "${CMAKE_CURRENT_LIST_DIR}/static_agent/gssapi_absent.cpp")
target_include_directories(medic_static_gssapi_absent SYSTEM PRIVATE /usr/include/mit-krb5)
foreach(_t medic_static_fmt medic_static_spdlog medic_static_sd_notify medic_static_gssapi_absent)
  target_compile_features(${_t} PRIVATE cxx_std_20)
  target_compile_options(${_t} PRIVATE -ffunction-sections -fdata-sections)
endforeach()

medic_shared_library(_medic_so_fmt fmt)
add_library(fmt::fmt INTERFACE IMPORTED)
set_target_properties(fmt::fmt PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS "FMT_SHARED"
  INTERFACE_COMPILE_FEATURES "cxx_variadic_templates")
medic_dual_link(fmt::fmt STATIC medic_static_fmt SHARED "${_medic_so_fmt}")
add_library(fmt::fmt-header-only INTERFACE IMPORTED)
set_target_properties(fmt::fmt-header-only PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1"
  INTERFACE_COMPILE_FEATURES "cxx_variadic_templates")

medic_shared_library(_medic_so_spdlog spdlog)
add_library(spdlog::spdlog INTERFACE IMPORTED)
set_target_properties(spdlog::spdlog PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS "SPDLOG_SHARED_LIB;SPDLOG_COMPILED_LIB;SPDLOG_FMT_EXTERNAL")
medic_dual_link(spdlog::spdlog STATIC medic_static_spdlog SHARED "${_medic_so_spdlog}")
set_property(TARGET spdlog::spdlog APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads fmt::fmt)
add_library(spdlog::spdlog_header_only INTERFACE IMPORTED)
set_target_properties(spdlog::spdlog_header_only PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;fmt::fmt")

medic_shared_library(_medic_so_yaml yaml-cpp)
add_library(yaml-cpp INTERFACE IMPORTED)
medic_dual_link(yaml-cpp STATIC "${_medic_a_yaml}" SHARED "${_medic_so_yaml}")

medic_shared_library(_medic_so_sqlite sqlite3)
add_library(SQLite::SQLite3 INTERFACE IMPORTED)
medic_dual_link(SQLite::SQLite3 STATIC "${_medic_a_sqlite}" m SHARED "${_medic_so_sqlite}")

# libzmq.a and what it needs (its pkg-config Libs.private): CURVE's libsodium, PGM, NORM, libbsd;
# GSSAPI's calls fail (see above).
set(_medic_zmq_static "${_medic_a_zmq}" "${_medic_a_sodium}" "${_medic_a_pgm}" "${_medic_a_norm}"
    "${_medic_a_protokit}" "${_medic_a_bsd}" "${_medic_a_md}" medic_static_gssapi_absent
    Threads::Threads rt m)
medic_shared_library(_medic_so_zmq zmq)
add_library(libzmq INTERFACE IMPORTED) # the target cppzmq's config links
medic_dual_link(libzmq STATIC ${_medic_zmq_static} SHARED "${_medic_so_zmq}")

# The pkg-config targets, once MedicDependencies.cmake has made them.
function(medic_dual_pkgconfig name)
  get_target_property(shared PkgConfig::${name} INTERFACE_LINK_LIBRARIES)
  medic_dual_link(PkgConfig::${name} STATIC ${ARGN} SHARED ${shared})
endfunction()
function(medic_static_agent_pkgconfig)
  medic_dual_pkgconfig(LIBUV "${_medic_a_uv}" dl rt)
  medic_dual_pkgconfig(LIBZMQ ${_medic_zmq_static})
  medic_dual_pkgconfig(RE2 "${_medic_a_re2}")
  medic_dual_pkgconfig(HYPERSCAN "${_medic_a_hs}" m)
  medic_dual_pkgconfig(SODIUM "${_medic_a_sodium}")
  medic_dual_pkgconfig(LIBSYSTEMD medic_static_sd_notify)
endfunction()

# `target` (an executable) links statically: libstdc++ and libgcc included, unused sections
# dropped, no shared library kept that nothing references.
function(medic_link_statically target)
  set_property(TARGET ${target} PROPERTY MEDIC_STATIC_LINK ON)
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc LINKER:--gc-sections
                      LINKER:--as-needed)
endfunction()
