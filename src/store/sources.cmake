# store: chunking, codecs, Merkle ids, chunk store, fsck, gc.
file(GLOB GOSR_STORE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_STORE_SOURCES})
