/*-------------------------------------------------------------------------
 * text.c
 *    Short texts built without printf (see text.h for why).
 *
 * Interface routines: see text.h.
 *-------------------------------------------------------------------------
 */
/* strfromd (ISO/IEC TS 18661-1) is declared only on request. */
#define __STDC_WANT_IEC_60559_BFP_EXT__ 1

#include "model/text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

size_t mz_text_join(char *out, size_t len, ...)
{
    size_t total = 0;
    va_list parts;

    va_start(parts, len);
    for (const char *part = va_arg(parts, const char *); part;
         part = va_arg(parts, const char *)) {
        size_t n = strlen(part);
        if (total + 1 < len) {
            size_t room = len - 1 - total;
            memcpy(out + total, part, n < room ? n : room);
        }
        total += n;
    }
    va_end(parts);
    if (len > 0)
        out[total < len ? total : len - 1] = '\0';
    return total;
}

size_t mz_text_int64(char out[MZ_TEXT_INT64_BYTES], int64_t v)
{
    char digits[MZ_TEXT_INT64_BYTES];
    /* The magnitude as unsigned, so INT64_MIN has one too. */
    uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    size_t len = 0;

    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (v < 0)
        out[len++] = '-';
    while (n > 0)
        out[len++] = digits[--n];
    out[len] = '\0';
    return len;
}

int mz_text_real(char *out, size_t len, double v, int digits)
{
    /* strfromd takes only "%[.precision]conversion". */
    static const char *const formats[] = {
        NULL,    "%.1g",  "%.2g",  "%.3g",  "%.4g",  "%.5g",
        "%.6g",  "%.7g",  "%.8g",  "%.9g",  "%.10g", "%.11g",
        "%.12g", "%.13g", "%.14g", "%.15g", "%.16g", "%.17g"};

    if (digits < 1 || digits > 17 || len == 0)
        return -1;
    int n = strfromd(out, len, formats[digits], v);
    return n < 0 || (size_t)n >= len ? -1 : n;
}
