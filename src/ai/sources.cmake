# ai: capability registry, schemas, breakers, rate tiers, providers (libcurl
# multi), prompt safety, per-user state, provenance, ghost tier, router, and
# the loopback LLM server used by tests, benches and `gosr ai serve-mock`.
# Design: docs/ai.md. libcurl and libmicrohttpd come from the top-level DEPS.
file(GLOB GOSR_AI_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_AI_SOURCES})
