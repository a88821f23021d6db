/*
 * digits.h - decimal digits written directly, two at a time from a table
 * of the hundred pairs, rather than through snprintf: the times of the
 * text view and every number of the JSON writer are made of them, for
 * every element printed.
 */
#ifndef ATTRACE_CLI_DIGITS_H
#define ATTRACE_CLI_DIGITS_H

#include <stdint.h>
#include <string.h>

/* "00".."99", two characters each. */
extern const char cli_digit_pairs[200];

/* The decimal digits of @p v at @p p (up to 20, no NUL); returns their end. */
char *cli_put_uint(char *p, uint64_t v);

/* @p v, below 10^@p width, in @p width digits with leading zeros, ending
 * at @p end (written backwards). Inlined: with a constant width (the
 * fractions of the times) the loop unrolls. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void cli_put_digits_before(char *end, uint64_t v, int width)
{
    /* Times and counts mostly fit in 32 bits, where dividing is cheaper:
     * larger values give pairs in 64 bits until they fit. */
    while (v > UINT32_MAX) {
        end -= 2;
        memcpy(end, cli_digit_pairs + 2 * (v % 100), 2);
        v /= 100;
        width -= 2;
    }
    uint32_t w = (uint32_t)v;
    while (width >= 2) {
        uint32_t r = w % 100;
        w /= 100;
        end -= 2;
        memcpy(end, cli_digit_pairs + 2 * r, 2);
        width -= 2;
    }
    if (width)
        end[-1] = (char)('0' + w);
}

#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline char *cli_put_fixed(char *p, uint64_t v, int width)
{
    cli_put_digits_before(p + width, v, width);
    return p + width;
}

#endif
