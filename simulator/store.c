/*
 * store.c - the simulated module's certificate store in a directory
 * (layout in store.h).
 *
 * The whole store is kept in memory and mirrored to the directory on every
 * change. Each file is written atomically: a temporary file made with
 * mkstemp in the same directory, written, fsync'd, renamed over the final
 * name, then the directory is fsync'd. Files are mode 0600, a directory the
 * store creates is 0700.
 *
 * The index-0 certificate and the client key change together, through a
 * commit record: both are first staged (".new-cert-00.der",
 * ".new-key-00.der"), then the record ".commit-00" is renamed into place
 * (that rename is the commit: "put key", "put nokey" or "delete"), then
 * the staged files are renamed over the real ones (or the real ones
 * removed) and the record is removed. Every step of that is idempotent, so
 * an open that finds a record finishes the change; an open that finds
 * staged or temporary files without a record (killed before the commit)
 * removes them. Either way a restart sees the old pair or the new pair,
 * never one of each, and no temporary file with key bytes stays behind.
 *
 * At open, only the documented names are loaded (cert-00.der .. cert-30.der,
 * key-00.der); other files, and names that only look similar, are skipped.
 * A store file that is not a regular file or is larger than 64 KiB makes the
 * open fail with a message naming it, rather than being silently ignored.
 */
#define _POSIX_C_SOURCE 200809L

#include "store.h"

#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define STORE_FILE_MAX (64u * 1024u)

struct sim_store {
    char *dir;
    uint8_t *cert[SIM_STORE_SLOTS];
    size_t cert_len[SIM_STORE_SLOTS];
    uint8_t *key;
    size_t key_len;
};

/* ------------------------------------------------------------------ */
/* File names                                                         */
/* ------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "cert-NN.der" with NN 00..30: the index; "key-00.der": -2; else -1. */
static int name_slot(const char *name)
{
    if (strcmp(name, "key-00.der") == 0)
        return -2;
    if (strlen(name) != 11 || strncmp(name, "cert-", 5) != 0 ||
        strcmp(name + 7, ".der") != 0 || !is_digit(name[5]) || !is_digit(name[6]))
        return -1;
    int idx = (name[5] - '0') * 10 + (name[6] - '0');
    return idx < (int)SIM_STORE_SLOTS ? idx : -1;
}

static void cert_name(unsigned index, char out[16])
{
    snprintf(out, 16, "cert-%02u.der", index % 100u);
}

/* dir + "/" + name, malloc'd; NULL on allocation failure. */
static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* ------------------------------------------------------------------ */
/* Loading                                                            */
/* ------------------------------------------------------------------ */

/* Reads a store file; 0 (with *data NULL for an empty file) or -1. */
static int load_file(const char *path, uint8_t **data, size_t *len, char *err,
                     size_t err_cap)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY); /* a hand-made store may use symlinks */
    if (fd < 0) {
        at_err_set(err, err_cap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        at_err_set(err, err_cap, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        at_err_set(err, err_cap, "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (sb.st_size > (off_t)STORE_FILE_MAX) {
        at_err_set(err, err_cap, "%s is %lld bytes, more than a store file may hold (%u)",
                   path, (long long)sb.st_size, STORE_FILE_MAX);
        close(fd);
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    if (size == 0) {
        close(fd);
        return 0;
    }
    uint8_t *buf = malloc(size);
    if (!buf) {
        at_err_set(err, err_cap, "out of memory reading %s", path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            at_err_set(err, err_cap, "cannot read %s: %s", path,
                       n < 0 ? strerror(errno) : "file shrank while reading");
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = size;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The index-0 pair: commit record, recovery                          */
/* ------------------------------------------------------------------ */

#define STAGED_CERT ".new-cert-00.der"
#define STAGED_KEY ".new-key-00.der"
#define COMMIT_RECORD ".commit-00"
#define COMMIT_PUT_KEY "put key\n"
#define COMMIT_PUT_NOKEY "put nokey\n"
#define COMMIT_DELETE "delete\n"

static void sync_dir(const char *dir);

/* Renames (or, with @p to NULL, removes) one name of the store directory;
 * a missing @p from is not an error: the step was done before. */
static int step(const sim_store *st, const char *from, const char *to, char *err,
                size_t err_cap)
{
    char *a = join(st->dir, from);
    char *b = to ? join(st->dir, to) : NULL;
    int rc = 0;
    if (!a || (to && !b)) {
        at_err_set(err, err_cap, "out of memory");
        rc = -1;
    } else if ((to ? rename(a, b) : unlink(a)) != 0 && errno != ENOENT) {
        at_err_set(err, err_cap, "cannot %s %s: %s", to ? "rename" : "remove", a,
                   strerror(errno));
        rc = -1;
    }
    free(a);
    free(b);
    return rc;
}

/* Carries out the committed change of the index-0 pair, if a record is
 * there; then removes the record. 0 or -1. */
static int finish_commit(const sim_store *st, char *err, size_t err_cap)
{
    char *path = join(st->dir, COMMIT_RECORD);
    if (!path) {
        at_err_set(err, err_cap, "out of memory");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    free(path);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        at_err_set(err, err_cap, "cannot open %s/" COMMIT_RECORD ": %s", st->dir,
                   strerror(errno));
        return -1;
    }
    char rec[32] = "";
    ssize_t n = read(fd, rec, sizeof rec - 1);
    close(fd);
    rec[n > 0 ? n : 0] = '\0';

    int rc;
    if (strcmp(rec, COMMIT_PUT_KEY) == 0 || strcmp(rec, COMMIT_PUT_NOKEY) == 0) {
        rc = step(st, STAGED_CERT, "cert-00.der", err, err_cap);
        if (rc == 0)
            rc = rec[4] == 'k' ? step(st, STAGED_KEY, "key-00.der", err, err_cap)
                               : step(st, "key-00.der", NULL, err, err_cap);
    } else if (strcmp(rec, COMMIT_DELETE) == 0) {
        rc = step(st, "cert-00.der", NULL, err, err_cap);
        if (rc == 0)
            rc = step(st, "key-00.der", NULL, err, err_cap);
    } else {
        at_err_set(err, err_cap, "%s/" COMMIT_RECORD " is not a commit record this "
                   "simulator wrote; remove it by hand", st->dir);
        return -1;
    }
    if (rc != 0)
        return -1;
    sync_dir(st->dir);
    if (step(st, COMMIT_RECORD, NULL, err, err_cap) != 0)
        return -1;
    sync_dir(st->dir);
    return 0;
}

/* Whether @p name is a staged or temporary file of this store: the staged
 * pair, and write_atomic's "." NAME ".XXXXXX" of a store, staged or record
 * name. */
static bool is_leftover(const char *name)
{
    if (strcmp(name, STAGED_CERT) == 0 || strcmp(name, STAGED_KEY) == 0)
        return true;
    size_t n = strlen(name);
    if (n < 9 || name[0] != '.' || name[n - 7] != '.')
        return false;
    char inner[32];
    size_t k = n - 8;
    if (k >= sizeof inner)
        return false;
    memcpy(inner, name + 1, k);
    inner[k] = '\0';
    return name_slot(inner) != -1 || strcmp(inner, STAGED_CERT) == 0 ||
           strcmp(inner, STAGED_KEY) == 0 || strcmp(inner, COMMIT_RECORD) == 0;
}

static int load_dir(sim_store *st, char *err, size_t err_cap)
{
    DIR *d = opendir(st->dir);
    if (!d) {
        at_err_set(err, err_cap, "cannot open the store directory %s: %s", st->dir,
                   strerror(errno));
        return -1;
    }
    int rc = 0;
    bool removed = false;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        /* What a killed simulator left (some of it holds private keys). */
        if (is_leftover(de->d_name)) {
            rc = step(st, de->d_name, NULL, err, err_cap);
            removed = true;
            continue;
        }
        int slot = name_slot(de->d_name);
        if (slot == -1)
            continue;
        char *path = join(st->dir, de->d_name);
        if (!path) {
            at_err_set(err, err_cap, "out of memory");
            rc = -1;
            break;
        }
        uint8_t *data;
        size_t len;
        rc = load_file(path, &data, &len, err, err_cap);
        free(path);
        if (rc != 0)
            break;
        if (slot == -2) {
            st->key = data;
            st->key_len = len;
        } else {
            st->cert[slot] = data;
            st->cert_len[slot] = len;
        }
    }
    closedir(d);
    if (removed)
        sync_dir(st->dir);
    return rc;
}

sim_store *sim_store_open(const char *dir, char *err, size_t err_cap)
{
    if (!dir || !dir[0]) {
        at_err_set(err, err_cap, "no store directory given");
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        at_err_set(err, err_cap, "cannot create the store directory %s: %s", dir,
                   strerror(errno));
        return NULL;
    }
    sim_store *st = calloc(1, sizeof *st);
    if (!st || !(st->dir = malloc(strlen(dir) + 1))) {
        free(st);
        at_err_set(err, err_cap, "out of memory");
        return NULL;
    }
    memcpy(st->dir, dir, strlen(dir) + 1);
    /* A committed change a kill interrupted is finished first; the scan
     * then removes staged and temporary files of an uncommitted one. */
    if (finish_commit(st, err, err_cap) != 0 || load_dir(st, err, err_cap) != 0) {
        sim_store_close(st);
        return NULL;
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* Queries                                                            */
/* ------------------------------------------------------------------ */

const uint8_t *sim_store_cert(const sim_store *st, unsigned index, size_t *len)
{
    if (len)
        *len = 0;
    if (!st || index >= SIM_STORE_SLOTS || !st->cert[index])
        return NULL;
    if (len)
        *len = st->cert_len[index];
    return st->cert[index];
}

const uint8_t *sim_store_key(const sim_store *st, size_t *len)
{
    if (len)
        *len = 0;
    if (!st || !st->key)
        return NULL;
    if (len)
        *len = st->key_len;
    return st->key;
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: not every file system supports it */
        close(fd);
    }
}

/* Writes @p name in the store directory atomically with mode 0600. */
static int write_atomic(const sim_store *st, const char *name, const uint8_t *data,
                        size_t len, char *err, size_t err_cap)
{
    char tmpl_name[40];
    snprintf(tmpl_name, sizeof tmpl_name, ".%s.XXXXXX", name);
    char *tmp = join(st->dir, tmpl_name);
    char *path = join(st->dir, name);
    if (!tmp || !path) {
        free(tmp);
        free(path);
        at_err_set(err, err_cap, "out of memory");
        return -1;
    }
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        at_err_set(err, err_cap, "cannot create a temporary file in %s: %s", st->dir,
                   strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0) {
        at_err_set(err, err_cap, "cannot set the mode of %s: %s", tmp, strerror(errno));
        goto fail;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            at_err_set(err, err_cap, "cannot write %s: %s", tmp,
                       n < 0 ? strerror(errno) : "no progress");
            goto fail;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        at_err_set(err, err_cap, "cannot sync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        at_err_set(err, err_cap, "cannot close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        at_err_set(err, err_cap, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    sync_dir(st->dir);
    rc = 0;
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    free(tmp);
    free(path);
    return rc;
}

static int remove_file(const sim_store *st, const char *name, char *err, size_t err_cap)
{
    char *path = join(st->dir, name);
    if (!path) {
        at_err_set(err, err_cap, "out of memory");
        return -1;
    }
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        at_err_set(err, err_cap, "cannot remove %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(path);
    if (rc == 0)
        sync_dir(st->dir);
    return rc;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/*
 * For index 0 the key goes with the certificate: a put without a key
 * removes a key stored earlier, since it belonged to the old certificate.
 */
int sim_store_put(sim_store *st, unsigned index, const uint8_t *cert,
                  size_t cert_len, const uint8_t *key, size_t key_len,
                  char *err, size_t err_cap)
{
    if (!st || index >= SIM_STORE_SLOTS || !cert || cert_len == 0 ||
        cert_len > STORE_FILE_MAX || (key && (key_len == 0 || key_len > STORE_FILE_MAX))) {
        at_err_set(err, err_cap, "invalid arguments to the store");
        return -1;
    }
    if (key && index != 0) {
        at_err_set(err, err_cap, "a private key can only be stored with index 0");
        return -1;
    }
    uint8_t *c = dup_bytes(cert, cert_len);
    uint8_t *k = key ? dup_bytes(key, key_len) : NULL;
    if (!c || (key && !k)) {
        free(c);
        free(k);
        at_err_set(err, err_cap, "out of memory");
        return -1;
    }
    char name[16];
    cert_name(index, name);
    int rc;
    if (index == 0) {
        /* The pair: staged, committed, carried out (see the top). */
        rc = write_atomic(st, STAGED_CERT, cert, cert_len, err, err_cap);
        if (rc == 0 && key)
            rc = write_atomic(st, STAGED_KEY, key, key_len, err, err_cap);
        const char *rec = key ? COMMIT_PUT_KEY : COMMIT_PUT_NOKEY;
        if (rc == 0)
            rc = write_atomic(st, COMMIT_RECORD, (const uint8_t *)rec, strlen(rec), err,
                              err_cap);
        if (rc == 0)
            rc = finish_commit(st, err, err_cap);
    } else {
        rc = write_atomic(st, name, cert, cert_len, err, err_cap);
    }
    if (rc != 0) {
        free(c);
        free(k);
        return -1;
    }
    free(st->cert[index]);
    st->cert[index] = c;
    st->cert_len[index] = cert_len;
    if (index == 0) {
        free(st->key);
        st->key = k;
        st->key_len = k ? key_len : 0;
    }
    return 0;
}

int sim_store_delete(sim_store *st, unsigned index, char *err, size_t err_cap)
{
    if (!st || index >= SIM_STORE_SLOTS) {
        at_err_set(err, err_cap, "invalid arguments to the store");
        return -1;
    }
    char name[16];
    cert_name(index, name);
    if (index == 0) {
        if (write_atomic(st, COMMIT_RECORD, (const uint8_t *)COMMIT_DELETE,
                         strlen(COMMIT_DELETE), err, err_cap) != 0 ||
            finish_commit(st, err, err_cap) != 0)
            return -1;
    } else if (remove_file(st, name, err, err_cap) != 0) {
        return -1;
    }
    free(st->cert[index]);
    st->cert[index] = NULL;
    st->cert_len[index] = 0;
    if (index == 0) {
        free(st->key);
        st->key = NULL;
        st->key_len = 0;
    }
    return 0;
}

void sim_store_close(sim_store *st)
{
    if (!st)
        return;
    for (unsigned i = 0; i < SIM_STORE_SLOTS; i++)
        free(st->cert[i]);
    free(st->key);
    free(st->dir);
    free(st);
}
