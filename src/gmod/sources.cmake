# gmod: semver, gmod.json manifest, bundle writer and streaming reader.
file(GLOB GOSR_GMOD_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_GMOD_SOURCES})
