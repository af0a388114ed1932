/*
 * time.c — monotonic and wall clocks, RFC 3339 formatting and parsing.
 * Design: docs/base.md ("Time").
 */
#include "gosr/base.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t gosr_time_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t gosr_time_wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

void gosr_time_format_rfc3339(int64_t unix_s, char out[21])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Hinnant's formula). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Parses "+HH:MM", "-HH:MM" or "Z" at *p into seconds east of UTC. */
static int parse_offset(const char *p, int *off_s)
{
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *off_s = 0;
        return GOSR_OK;
    }
    int hh, mm, n = 0;
    if ((p[0] != '+' && p[0] != '-') ||
        sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 ||
        p[6] != '\0' || hh > 23 || mm > 59)
        return GOSR_EFORMAT;
    *off_s = (p[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return GOSR_OK;
}

int gosr_time_parse_rfc3339(const char *s, int64_t *unix_s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h,
                     &mi, &sec, &n) != 6 || n != 19)
        return GOSR_EFORMAT;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return GOSR_EFORMAT;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return GOSR_EFORMAT;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int off;
    if (parse_offset(p, &off) != GOSR_OK)
        return GOSR_EFORMAT;
    *unix_s = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
              h * 3600 + mi * 60 + sec - off;
    return GOSR_OK;
}
