# demo: `gosr demo` — bots, orchestration and report for games/arena.
# Design: docs/demo.md.
file(GLOB GOSR_DEMO_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_DEMO_SOURCES})
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/demo.c PROPERTIES
  COMPILE_DEFINITIONS "GOSR_ARENA_DIR=\"${CMAKE_SOURCE_DIR}/games/arena\"")
