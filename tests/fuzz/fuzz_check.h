/*
 * fuzz_check.h - a promise a fuzz target checks: when it is broken, which
 * one (file, line, the condition) goes to stderr before the crash that
 * libFuzzer records with its input.
 */
#ifndef ATTRACE_FUZZ_CHECK_H
#define ATTRACE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define fuzz_check(ok) \
    do { \
        if (!(ok)) { \
            fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #ok); \
            abort(); \
        } \
    } while (0)

#endif
