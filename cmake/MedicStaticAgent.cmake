# SPDX-License-Identifier: Apache-2.0
# MEDIC_AGENT_STATIC: medic-agent is a static PIE: glibc, libstdc++, libgcc and its third-party
# libraries from Debian's static archives, unused sections garbage-collected, the code it runs
# laid out together (static_agent/text_order.txt, LLD), its own code compiled for size. No shared
# library is mapped: no per-library headers, symbol tables, relocations or GOTs resident, and only
# the libc functions it calls. Footprint setup, agent alone: RSS 13.8 -> 9.9 MiB (static
# archives, glibc shared) -> 6.1 MiB (static glibc, ordered text, -Os agent code). glibc 2.36's
# static NSS has the files and dns sources built in; LDAP or SSSD users and groups for `exec`
# actions need MEDIC_AGENT_STATIC=OFF. Debian ships no archive for libsystemd, spdlog, fmt or MIT
# Kerberos: spdlog and fmt are compiled here from their headers, sd_notify() and
# sd_watchdog_enabled() come from static_agent/sd_notify_lite.cpp, and ZeroMQ's GSSAPI calls (a
# mechanism the agent never uses; it speaks CURVE) fail from static_agent/gssapi_absent.cpp.
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
  function(medic_small_code target)
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

# Every object in a MEDIC_AGENT_STATIC build gets one section per function and per datum, so the
# agent's link drops each unused one (--gc-sections) and lays out the used ones in the order of
# static_agent/text_order.txt (below). Code generation is unchanged; the other programs link as
# before.
add_compile_options(-ffunction-sections -fdata-sections)

# The agent links with LLD >= 15: --symbol-ordering-file puts the functions the agent runs next
# to each other (the kernel faults text in 64 KiB around each touched page, so scattered hot code
# costs far more than its size), and -z pack-relative-relocs turns .rela.dyn's ~13,000 relative
# relocations (312 KiB, all read at start) into a 2 KiB DT_RELR table with the
# GLIBC_ABI_DT_RELR dependency glibc >= 2.36 requires (LLD 14 cannot add that). Debian 12: lld-16
# (scripts/setup.sh). Without it, GNU ld packs the relocations and the text stays in link order.
# Footprint setup, agent alone: relocations 336 -> 32 KiB resident; resident text 4.8-5.5 -> 3.5
# MiB (about 1.4 MiB run in the steady state, the rest once at start-up); VmRSS 9.5 -> 7.9 MiB.
find_program(MEDIC_AGENT_LLD NAMES ld.lld-16 ld.lld-17 ld.lld-18 ld.lld-15 ld.lld
             DOC "LLD >= 15 for medic-agent's ordered, DT_RELR link")
set(_medic_agent_lld_dir "")
if(MEDIC_AGENT_LLD)
  execute_process(COMMAND "${MEDIC_AGENT_LLD}" --version OUTPUT_VARIABLE _medic_lld_version
                  ERROR_QUIET)
  string(REGEX MATCH "LLD ([0-9]+)" _medic_lld_match "${_medic_lld_version}")
  if(CMAKE_MATCH_1 GREATER_EQUAL 15)
    # gcc's -fuse-ld=lld runs the `ld.lld` it finds first in its -B directories.
    set(_medic_agent_lld_dir "${CMAKE_BINARY_DIR}/medic-agent-lld")
    file(MAKE_DIRECTORY "${_medic_agent_lld_dir}")
    file(CREATE_LINK "${MEDIC_AGENT_LLD}" "${_medic_agent_lld_dir}/ld.lld" SYMBOLIC)
  endif()
endif()
if(NOT _medic_agent_lld_dir)
  message(STATUS "MEDIC_AGENT_STATIC: no LLD >= 15 (Debian package lld-16): medic-agent links "
                 "with the default linker, its text not ordered")
endif()
set(MEDIC_AGENT_TEXT_ORDER "${CMAKE_CURRENT_LIST_DIR}/static_agent/text_order.txt")

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
  # -static-pie: glibc too, still position independent (ASLR stays). Only the libc functions the
  # agent calls are in it, ordered with the rest, instead of libc.so, libm.so and ld.so mapped
  # whole (1.5 MiB resident in the footprint setup, 64 KiB faulted in around each call). glibc
  # 2.36's static NSS has the files and dns sources built in (users and groups of `exec` actions,
  # host names); other NSS modules (LDAP, SSSD) need the shared agent, MEDIC_AGENT_STATIC=OFF.
  target_link_options(${target} PRIVATE -static-pie LINKER:--gc-sections LINKER:--as-needed
                      LINKER:-z,pack-relative-relocs)
  if(_medic_agent_lld_dir)
    # The order file names functions by symbol; a stale one (renamed or removed functions, or
    # libc's, which are not in the binary) only costs locality, so LLD's warnings are silenced.
    # tests/bench/agent_text_order.py regenerates it.
    target_link_options(${target} PRIVATE "-B${_medic_agent_lld_dir}/" -fuse-ld=lld
                        "LINKER:--symbol-ordering-file=${MEDIC_AGENT_TEXT_ORDER}"
                        LINKER:--no-warn-symbol-ordering)
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${MEDIC_AGENT_TEXT_ORDER}")
    # The pages of the listed functions, written into the binary for fence_own_code()
    # (agent/loop/code_fence.hpp). Same file size, same layout: only that table's bytes change.
    add_dependencies(${target} medic-code-runs)
    add_custom_command(TARGET ${target} POST_BUILD
                       COMMAND medic-code-runs "$<TARGET_FILE:${target}>" "${MEDIC_AGENT_TEXT_ORDER}"
                       VERBATIM)
  endif()
endfunction()

# `target` (the agent's own code) is compiled for size (-Os): its start-up code (configuration,
# catalogues, rules) runs once but stays resident, and at -O3 it is 2.3x larger. The hot paths
# of log following are in Hyperscan and shared/ (template mining), which keep -O3: log MB/s with
# mining off is unchanged at -Os. The sources after HOT (paths relative to the caller's folder)
# run every second (samplers, tailer, rules, batches) and are compiled with -O2: only the code the
# steady state runs stays resident (code_fence.hpp). Measured (callgrind, the footprint setup):
# 8 % fewer instructions on the agent's loop for 48 KiB more resident code.
function(medic_small_code target)
  cmake_parse_arguments(PARSE_ARGV 1 _small "" "" "HOT")
  target_compile_options(${target} PRIVATE -Os)
  if(_small_HOT)
    set_source_files_properties(${_small_HOT} TARGET_DIRECTORY ${target} PROPERTIES
                                COMPILE_OPTIONS -O2)
  endif()
endfunction()
