# kernel: the node (store + registry + ledger + world + tick thread), Lua
# module slots, hot swap, dependency resolution, admin endpoints.
# Design: docs/kernel.md.
file(GLOB GOSR_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_KERNEL_SOURCES})
