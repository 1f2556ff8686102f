/*
 * format.c - numbers printed the way Python prints them. Roboflow's JSON is
 * written by Python, so a confidence must read back as the same double and
 * look the same: the shortest round-trip digits, positional notation from
 * 1e-4 up to 1e16, and "1.0" rather than "1". Non-finite values come out as
 * Python's json.dumps writes them (NaN, Infinity); callers that need strict
 * JSON check isfinite first.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void core_format_double(double d, char out[32])
{
    if (isnan(d)) {
        snprintf(out, 32, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, 32, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d) break;
    }
    /* Python repr: exponent form only below 1e-4 or from 1e16; "1.0" not "1". */
    char *e = strchr(out, 'e');
    if (e) {
        int exp = (int)strtol(e + 1, NULL, 10);
        if (exp >= -4 && exp < 16) {
            /* %g chose an exponent at this precision; print positionally */
            char tmp[40];
            int decimals = 0;
            for (int k = 0; k <= 20; k++) {
                snprintf(tmp, sizeof tmp, "%.*f", k, d);
                if (strtod(tmp, NULL) == d) {
                    decimals = k;
                    break;
                }
            }
            snprintf(out, 32, "%.*f", decimals, d);
        } else {
            /* Python writes e-05 / e+16 with at least 2 exponent digits, like C */
            return;
        }
    }
    if (!strchr(out, '.') && !strchr(out, 'e') && !strchr(out, 'n') && !strchr(out, 'N'))
        strncat(out, ".0", 31 - strlen(out));
}
