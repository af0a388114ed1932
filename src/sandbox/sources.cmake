# sandbox: budgeted Lua 5.4 states, host API, values, watchdog, pool.
# Design: docs/sandbox.md.
file(GLOB GOSR_SANDBOX_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_SANDBOX_SOURCES})
