/*
 * store.h - the simulated module's certificate store, kept in a directory
 * so it survives restarts like a module's flash.
 *
 * Layout of the directory (also how a store is prepared by hand):
 *   cert-NN.der   the DER certificate at index NN (two digits, 00..30)
 *   key-00.der    the client private key (PKCS#8 or PKCS#1 DER, unencrypted)
 * Files are written atomically (temporary file + rename) with mode 0600.
 * The index-0 certificate and key change together, through the commit
 * record ".commit-00" and the staged ".new-cert-00.der"/".new-key-00.der"
 * (store.c): an open finishes a change that was committed and removes
 * staged and temporary files of one that was not, so after a kill at any
 * point the store holds the old pair or the new pair.
 */
#ifndef ATTRACE_SIM_STORE_H
#define ATTRACE_SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_STORE_SLOTS 31u

typedef struct sim_store sim_store;

/** Opens (creating it 0700 if missing) the store at @p dir, finishes or
 *  drops a change a killed simulator left (see above), and loads it.
 *  Other file names are skipped; a store file that is not a regular file
 *  or is over 64 KiB makes the open fail (NULL, message in @p err). */
sim_store *sim_store_open(const char *dir, char *err, size_t err_cap);

/** The certificate at @p index, or NULL (length in @p len). */
const uint8_t *sim_store_cert(const sim_store *st, unsigned index, size_t *len);

/** The client key, or NULL. */
const uint8_t *sim_store_key(const sim_store *st, size_t *len);

/** Stores a certificate (and, for index 0, optionally the key; an index-0
 *  put without a key removes the key stored before). 0 or -1. */
int sim_store_put(sim_store *st, unsigned index, const uint8_t *cert,
                  size_t cert_len, const uint8_t *key, size_t key_len,
                  char *err, size_t err_cap);

/** Deletes the certificate at @p index (and the key with index 0). 0 or -1. */
int sim_store_delete(sim_store *st, unsigned index, char *err, size_t err_cap);

void sim_store_close(sim_store *st);

#endif
