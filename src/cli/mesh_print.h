/*
 * mesh_print.h — human output of `gosr mesh` control answers (the JSON
 * is printed as is with --json). Design: docs/mesh.md ("Control
 * requests").
 */
#ifndef GOSR_CLI_MESH_PRINT_H
#define GOSR_CLI_MESH_PRINT_H

#include <jansson.h>

/* Prints the successful answer `j` of control request `op` to stdout. */
void mesh_print(const char *op, const json_t *j);

#endif /* GOSR_CLI_MESH_PRINT_H */
