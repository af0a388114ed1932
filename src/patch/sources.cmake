# patch: the patch pipeline (validate, canary, policy gate, staged
# activation, rollback, kill switch) on a node. Design: docs/patch.md.
file(GLOB GOSR_PATCH_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_PATCH_SOURCES})
