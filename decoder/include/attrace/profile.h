/*
 * attrace/profile.h - module families (PROTOCOL.md section 11).
 *
 * A profile carries the limits the module enforces. Real modules win over
 * these notes, so callers may copy a built-in profile and change any field.
 */
#ifndef ATTRACE_PROFILE_H
#define ATTRACE_PROFILE_H

#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum at_profile_id {
    AT_PROFILE_LEGACY = 0, /**< MC75i, TC63i, TC65i, BGS2/3, EGS5, AGS2 */
    AT_PROFILE_NEWER = 1   /**< EXS62, PLS62/63/83, TX62 */
} at_profile_id;

typedef struct at_profile {
    at_profile_id id;
    const char *name;       /**< "legacy" or "newer" */
    uint16_t index_max;     /**< highest certificate index (10 or 30) */
    uint32_t cert_max;      /**< largest certificate in bytes */
    uint32_t key_max;       /**< largest private key in bytes */
    uint8_t digest_len;     /**< expected signature digest: 20 SHA-1, 32 SHA-256 */
    bool sbnr_expiry;       /**< ^SBNR lines carry an expiry date */
    bool unsigned_ok;       /**< frames without IMEI/signature are accepted */
} at_profile;

/** The built-in profile for @p id; never NULL for a valid id. */
const at_profile *at_profile_get(at_profile_id id);

/** Looks a profile up by name ("legacy", "newer"); NULL if unknown. */
const at_profile *at_profile_by_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
