# sandbox: budgeted Lua 5.4 states, host API, values, watchdog, pool.
# Design: docs/sandbox.md ("Performance": why executables link liblua5.4.a).
file(GLOB GOSR_SANDBOX_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_SANDBOX_SOURCES})

# Executables take Lua from Debian's static liblua5.4.a: see the
# "static Lua" block in the top-level CMakeLists.txt.
