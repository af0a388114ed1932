# mesh: identity, encrypted links, OpenDHT discovery, chunk exchange,
# replication, repair, storage proofs, credits (docs/mesh.md).
file(GLOB GOSR_MESH_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_MESH_SOURCES})
