/*
 * private_file.h - creating the files that may hold private keys (traces,
 * encoded frames): never through a symbolic link (a link planted where the
 * output goes would redirect the secret and have its target's mode
 * changed), and mode 0600 for a regular file, new or existing. Private to
 * the programs; not installed.
 */
#ifndef ATTRACE_PRIVATE_FILE_H
#define ATTRACE_PRIVATE_FILE_H

#include <stddef.h>

/* Opens @p path for writing, created or truncated: refused when it is a
 * symbolic link; a regular file is made mode 0600 before anything is
 * written (a device or FIFO is the caller's choice and keeps its mode).
 * Returns the descriptor (close-on-exec), or -1 with one sentence naming
 * @p path in @p err. */
int at_private_file_create(const char *path, char *err, size_t err_cap);

#endif
