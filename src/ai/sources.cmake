# ai: capability registry, schemas, breakers, rate tiers, providers (libcurl
# multi), prompt safety, per-user state, provenance, ghost tier, router, and
# the loopback LLM server used by tests, benches and `gosr ai serve-mock`.
# Design: docs/ai.md.
#
# libcurl and libmicrohttpd are not in the top-level DEPS list, so this file
# finds them and links them into the library targets once those exist
# (cmake_language(DEFER) runs after the top-level file has created them).
file(GLOB GOSR_AI_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_AI_SOURCES})
pkg_check_modules(AI_DEPS REQUIRED IMPORTED_TARGET libcurl libmicrohttpd)
cmake_language(DEFER CALL target_link_libraries gosr_obj PUBLIC PkgConfig::AI_DEPS)
cmake_language(DEFER CALL target_link_libraries gosr_static PUBLIC PkgConfig::AI_DEPS)
cmake_language(DEFER CALL target_link_libraries gosr PUBLIC PkgConfig::AI_DEPS)
