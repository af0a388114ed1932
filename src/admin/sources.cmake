# admin: HTTP admin API (libmicrohttpd), bearer-token auth and TOTP, the
# tick-thread request queue, and the Prometheus metrics registry.
file(GLOB GOSR_ADMIN_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_ADMIN_SOURCES})
