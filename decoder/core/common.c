/* Names, status strings and the built-in module profiles. */
#include "attrace/profile.h"
#include "attrace/types.h"

#include <string.h>

const char *at_dir_name(at_dir dir)
{
    return dir == AT_DIR_TE_TO_ME ? "TE->ME" : "ME->TE";
}

const char *at_status_str(at_status st)
{
    switch (st) {
    case AT_OK: return "ok";
    case AT_ERR_ARG: return "invalid argument";
    case AT_ERR_SPACE: return "output buffer too small";
    case AT_ERR_SYNTAX: return "syntax error";
    case AT_ERR_TOO_LONG: return "value too long for the wire format";
    case AT_ERR_SIGN: return "signing failed";
    }
    return "unknown status";
}

/* Limits from PROTOCOL.md section 11. The newer family's certificate limit
 * is not documented; 8 KiB leaves room for long chains' leaf certificates
 * and is a field callers can change. */
static const at_profile profiles[] = {
    {AT_PROFILE_LEGACY, "legacy", 10, 2048, 4096, 20, false, false},
    {AT_PROFILE_NEWER, "newer", 30, 8192, 4096, 32, true, true},
};

const at_profile *at_profile_get(at_profile_id id)
{
    if ((unsigned)id >= sizeof profiles / sizeof profiles[0])
        return NULL;
    return &profiles[id];
}

const at_profile *at_profile_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}
