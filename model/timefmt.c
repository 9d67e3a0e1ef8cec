/*-------------------------------------------------------------------------
 * timefmt.c
 *    RFC 3339 timestamps to and from seconds since the epoch.
 *
 * Calendar arithmetic uses the proleptic Gregorian days-from-civil
 * algorithm (H. Hinnant), which is exact for every year we accept and
 * needs neither timegm() nor the process time zone.
 *
 * Interface routines: mz_time_parse_rfc3339, mz_time_format_rfc3339.
 *-------------------------------------------------------------------------
 */
#include "model/timefmt.h"

#define SECONDS_PER_DAY 86400

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define MIN_SECONDS (-62167219200LL)
#define MAX_SECONDS (253402300799LL)

static bool is_leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of the civil date y-m-d. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n decimal digits at *p, advancing it; false otherwise. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

bool mz_time_parse_rfc3339(const char *text, int64_t *out_seconds)
{
    if (!text)
        return false;
    const char *p = text;
    int year, month, day, hour, minute, second;
    if (!read_digits(&p, 4, &year) || !expect(&p, '-') ||
        !read_digits(&p, 2, &month) || !expect(&p, '-') ||
        !read_digits(&p, 2, &day))
        return false;
    if (*p != 'T' && *p != 't')
        return false;
    p++;
    if (!read_digits(&p, 2, &hour) || !expect(&p, ':') ||
        !read_digits(&p, 2, &minute) || !expect(&p, ':') ||
        !read_digits(&p, 2, &second))
        return false;
    if (month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return false;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (!read_digits(&p, 2, &oh) || !expect(&p, ':') ||
            !read_digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    /* Local time minus the offset is UTC; a leap second ":60" simply rolls
     * into the next minute, as POSIX time has no room for it. */
    int64_t seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY +
                      hour * 3600 + minute * 60 + second - offset_s;
    *out_seconds = seconds;
    return true;
}

/* Writes the width lowest decimal digits of v (v >= 0), zero-padded. */
static void put_digits(char *out, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void mz_time_format_rfc3339(int64_t seconds, char buf[MZ_TIME_RFC3339_BYTES])
{
    if (seconds < MIN_SECONDS)
        seconds = MIN_SECONDS;
    if (seconds > MAX_SECONDS)
        seconds = MAX_SECONDS;
    /* Floor division, so instants before 1970 land on the right day. */
    int64_t days = seconds / SECONDS_PER_DAY;
    int64_t rem = seconds % SECONDS_PER_DAY;
    if (rem < 0) {
        rem += SECONDS_PER_DAY;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(buf, y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = 'T';
    put_digits(buf + 11, rem / 3600, 2);
    buf[13] = ':';
    put_digits(buf + 14, rem / 60 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, rem % 60, 2);
    buf[19] = 'Z';
    buf[20] = '\0';
}
