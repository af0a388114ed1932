# crypto: BLAKE3 (portable + SIMD paths), ed25519 keys, certificates.
# Design: docs/blake3.md ("Build").
file(GLOB GOSR_CRYPTO_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND GOSR_SOURCES ${GOSR_CRYPTO_SOURCES})

# The BLAKE3 SIMD paths: each file is compiled for its own instruction set
# and only called after runtime CPU detection (blake3_dispatch.c). On other
# architectures these files compile to nothing and only the portable path
# exists.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/blake3_sse41.c
    PROPERTIES COMPILE_OPTIONS "-msse4.1")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/blake3_avx2.c
    PROPERTIES COMPILE_OPTIONS "-mavx2")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/blake3_avx512.c
    PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512vl")
endif()
