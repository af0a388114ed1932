# base: status codes, errors, allocator, log, time, hex, file I/O.
file(GLOB GOSR_BASE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_BASE_SOURCES})
