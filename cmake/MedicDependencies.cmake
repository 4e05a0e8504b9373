# SPDX-License-Identifier: Apache-2.0
# Every third-party library comes from Debian 12's packages (see scripts/setup.sh).

find_package(PkgConfig REQUIRED)
# MEDIC_AGENT_STATIC's stand-ins for the targets below (see MedicStaticAgent.cmake).
include(MedicStaticAgent)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv>=1.44)
pkg_check_modules(LIBZMQ REQUIRED IMPORTED_TARGET libzmq>=4.3)
find_package(cppzmq REQUIRED)
find_package(msgpack CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(tl-expected REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(Threads REQUIRED)
# Log matching and process command-line patterns (agent/detect, agent/sample, agent/tail).
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(HYPERSCAN REQUIRED IMPORTED_TARGET libhs>=5.4)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# Outgoing HTTP for escalation (coordinator/escalate): Alertmanager's API and webhooks.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
# sd_notify for the systemd units (shared/service): READY, WATCHDOG, RELOADING, STOPPING.
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
medic_static_agent_pkgconfig()
