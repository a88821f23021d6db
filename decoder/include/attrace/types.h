/*
 * attrace/types.h - vocabulary shared by every layer of the decoder core.
 *
 * The core is pure C11: no I/O, no global mutable state, no allocation.
 * Every element it reports carries the stream offsets of its bytes so a
 * front end (CLI --hex, the Wireshark tree) can point at them.
 */
#ifndef ATTRACE_TYPES_H
#define ATTRACE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Direction of a byte stream, numbered as TRACE-FORMAT.md's P2P_DIRECTION. */
typedef enum at_dir {
    AT_DIR_TE_TO_ME = 0, /**< host to module ("sent") */
    AT_DIR_ME_TO_TE = 1  /**< module to host ("received") */
} at_dir;

/**
 * A run of bytes in one direction's stream: @c off counts from the first
 * byte ever seen in that direction (0-based), @c len bytes long.
 */
typedef struct at_span {
    uint64_t off;
    uint32_t len;
} at_span;

/**
 * A slice of text inside a caller's buffer, with the stream span it came
 * from. Not NUL-terminated; @c ptr is NULL when the element is absent.
 */
typedef struct at_str {
    const char *ptr;
    size_t len;
    at_span span;
} at_str;

/** Status codes returned by core functions (0 = success). */
typedef enum at_status {
    AT_OK = 0,
    AT_ERR_ARG = -1,      /**< invalid argument (NULL, out of range) */
    AT_ERR_SPACE = -2,    /**< output buffer too small */
    AT_ERR_SYNTAX = -3,   /**< input does not have the expected form */
    AT_ERR_TOO_LONG = -4, /**< a value exceeds what the wire format can hold */
    AT_ERR_SIGN = -5      /**< the signing callback failed */
} at_status;

/** Human-readable name of an at_dir ("TE->ME" / "ME->TE"). */
const char *at_dir_name(at_dir dir);

/** Short description of an at_status. */
const char *at_status_str(at_status st);

#ifdef __cplusplus
}
#endif
#endif
