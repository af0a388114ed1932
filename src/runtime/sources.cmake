# runtime: shared arena with epochs, world, tick loop, event envelopes,
# session log and replay, activation ledger. Design: docs/runtime.md.
file(GLOB GOSR_RUNTIME_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_RUNTIME_SOURCES})
