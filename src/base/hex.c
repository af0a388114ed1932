/*
 * hex.c — lower-case hex encoding and strict decoding.
 */
#include "gosr/base.h"

#include <string.h>

void gosr_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int gosr_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gosr_hex_decode(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return GOSR_EFORMAT;
    for (size_t i = 0; i < n; i++) {
        int hi = gosr_hex_digit(hex[2 * i]), lo = gosr_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return GOSR_EFORMAT;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return GOSR_OK;
}
