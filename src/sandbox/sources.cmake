# sandbox: budgeted Lua 5.4 states, host API, values, watchdog, pool.
# Design: docs/sandbox.md ("Performance": why executables link liblua5.4.a).
file(GLOB GOSR_SANDBOX_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_SANDBOX_SOURCES})

# Debian's shared liblua5.4.so (-fPIC) runs CPU-bound Lua up to ~1.7x slower
# than the same Lua 5.4.4 in Debian's static liblua5.4.a, which is what
# /usr/bin/lua5.4 itself is built from. Executables that link gosr_static
# (the gosr command, tests, benches, fuzzers) therefore take Lua from the
# static archive, placed ahead of -llua5.4; libgosr.so keeps the shared one.
# Deferred because gosr_static is defined after this file is included.
find_library(GOSR_LUA_STATIC NAMES liblua5.4.a)
if(GOSR_LUA_STATIC)
  function(gosr_sandbox_prefer_static_lua)
    get_target_property(libs gosr_static INTERFACE_LINK_LIBRARIES)
    set_target_properties(gosr_static PROPERTIES
      INTERFACE_LINK_LIBRARIES "${GOSR_LUA_STATIC};${libs};${CMAKE_DL_LIBS}")
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
                 CALL gosr_sandbox_prefer_static_lua)
endif()
