/*
 * The table of diagnosis rules: every finding's rule id, default severity,
 * what it detects and the fix its findings give. The rules' code takes its
 * ids (and the fixed fix texts) from here, `attrace decode --list-rules`
 * prints it and the README's rule list is checked against it.
 *
 * Fix templates: <angle brackets> stand for what the finding fills in.
 */
#include "analysis_internal.h"

#include <string.h>

static const at_rule rules[] = {
    /* Text where the frame belongs */
    {"frame_as_pem", AT_SEV_ERROR,
     "After AT^SBNW the host sent PEM text instead of a binary frame.",
     "Send a binary frame (TotalLen, CmdId, ParamNum, then the units) whose certificate unit "
     "holds the DER bytes, e.g. one written by attrace encode."},
    {"frame_as_hex_text", AT_SEV_ERROR,
     "After AT^SBNW the host sent the frame as hexadecimal ASCII text.",
     "Convert the hex text to raw bytes and send those <half the digits> bytes as the frame, "
     "with no line end."},
    {"host_side_missing", AT_SEV_WARNING,
     "A secure command failed and the trace holds no byte the host sent after SECURE CMD "
     "READY (the host sent no frame, or only the module's side was captured).",
     "If the host did send a frame, capture its side too (attrace capture as a proxy or a "
     "tap) and run the command again: the diagnosis needs the frame's bytes; if it did not, "
     "send the frame right after SECURE CMD READY."},
    {"profile_guessed_newer", AT_SEV_INFO,
     "The module accepted a frame a legacy module refuses (unsigned, index above 10, "
     "SHA-256, a large certificate): from then on the newer profile's limits apply.",
     "Pass --profile newer to check every frame with the newer module's limits from the "
     "start."},

    /* How the frame was built */
    {"big_endian_lengths", AT_SEV_ERROR,
     "The frame's 16-bit fields are big-endian; the module reads them little-endian.",
     "Write TotalLen, CmdId, ParamNum, ParamLen and ParamId least significant byte first "
     "(TotalLen <n> is <low byte> <high byte>)."},
    {"unit_length_wrong", AT_SEV_ERROR,
     "A ParamLen is under 4, runs past the frame, or leaves bytes inside TotalLen that no unit "
     "covers.",
     "Set every ParamLen to 4 (its header) plus the length of the unit's value, so that the "
     "units end exactly at TotalLen."},
    {"totallen_excludes_self", AT_SEV_ERROR,
     "TotalLen leaves out its own two bytes.",
     "Set TotalLen to the length of the whole frame including the TotalLen field itself "
     "(<frame length>)."},
    {"totallen_excludes_header", AT_SEV_ERROR,
     "TotalLen leaves out the 6-byte header (TotalLen, CmdId, ParamNum).",
     "Set TotalLen to the length of the whole frame including the TotalLen field itself "
     "(<frame length>)."},
    {"totallen_mismatch", AT_SEV_ERROR,
     "TotalLen disagrees with the frame's units and the bytes sent.",
     "Set TotalLen to the length of the whole frame including the TotalLen field itself "
     "(<frame length>)."},
    {"paramnum_mismatch", AT_SEV_ERROR,
     "ParamNum differs from the number of units in the frame.",
     "Set ParamNum to <units found>: it counts every unit, the IMEI and the signature "
     "included."},
    {"bytes_after_frame", AT_SEV_ERROR,
     "The host sent bytes after a frame whose TotalLen matches its units (a line end).",
     "Send exactly the <TotalLen> bytes of the frame and nothing after it (no line end)."},

    /* How the frame was sent */
    {"bytes_lost", AT_SEV_ERROR,
     "The frame stopped before TotalLen bytes (warning when the capture itself lost bytes).",
     "Send the whole frame (<TotalLen> bytes) in one go, without stopping, right after "
     "SECURE CMD READY (with AT\\Q1: use hardware flow control)."},
    {"xonxoff_active", AT_SEV_ERROR,
     "XON/XOFF flow control (AT\\Q1) is on and the frame holds 0x11/0x13 bytes.",
     "Switch to hardware flow control with AT\\Q3 (RTS/CTS) before AT^SBNW; XON/XOFF cannot "
     "carry binary frames."},
    {"frame_before_ready", AT_SEV_ERROR,
     "The host sent the frame before the module printed SECURE CMD READY.",
     "Wait for \"SECURE CMD READY: SEND COMMAND ...\" after AT^SBNW before sending the first "
     "byte of the frame."},
    {"frame_pause", AT_SEV_WARNING,
     "The host paused inside the frame for at least --pause-warn-ms.",
     "Write the whole frame in one go so that the module does not run into its service "
     "timeout; check the host's serial buffering and flow control."},

    /* What the frame holds */
    {"index_out_of_range", AT_SEV_ERROR,
     "The certificate index is outside the module family's range (0..10 legacy, 0..30 "
     "newer).",
     "Use index 0 for the client certificate and 1..<highest index> for server "
     "certificates."},
    {"key_index_not_0", AT_SEV_ERROR,
     "A private key is written with an index other than 0.",
     "Leave the key unit out when writing a server certificate (index <index>), or write the "
     "certificate and its key to index 0."},
    {"unknown_cmd", AT_SEV_ERROR,
     "The frame's CmdId is no command the module knows.",
     "Set CmdId to 1 (WRITE), 2 (READ), 3 (DELETE) or 4 (REVOKE), little-endian, and sign the "
     "frame again."},
    {"frame_malformed", AT_SEV_ERROR,
     "The frame breaks the format in a way no other rule names: an unknown or repeated "
     "ParamId, an index that is not 2 bytes or is missing, a WRITE without certificate, text "
     "without its NUL, a unit after the signature.",
     "Build the frame as the module expects it: after TotalLen, CmdId and ParamNum, each unit "
     "once (ParamLen, ParamId 1 to 7, value), the index as 2 bytes, text values ending with a "
     "NUL, the signature last (attrace encode writes such frames)."},
    {"index_empty", AT_SEV_ERROR,
     "A READ or DELETE names an index the trace shows empty (deleted, or listed empty by "
     "^SBNR).",
     "Read or delete an index that holds a certificate (AT^SBNR=is_cert lists them), or write "
     "one there first."},
    {"no_client_cert", AT_SEV_ERROR,
     "A signed frame (a server certificate's WRITE, a READ, a DELETE) is sent while no client "
     "certificate is at index 0 (warning when the trace cannot tell).",
     "Write the client certificate with its private key to index 0 first (the module checks "
     "every frame's signature with it)<, or pass --client-cert if it was written before the "
     "trace>."},
    {"imei_missing", AT_SEV_ERROR,
     "The frame has no IMEI unit (info for a module that accepts unsigned frames).",
     "Add the module's IMEI< (its IMEI)> as a NUL-terminated unit before the signature, and "
     "sign the frame again."},
    {"imei_not_15_digits", AT_SEV_ERROR,
     "The IMEI unit does not hold 15 decimal digits.",
     "Put the module's 15-digit IMEI< (its IMEI, from AT+CGSN)> in the unit, followed by one "
     "NUL byte."},
    {"imei_luhn", AT_SEV_ERROR,
     "The IMEI fails the Luhn check, so it is no module's IMEI.",
     "Use the IMEI the module reports with AT+CGSN< (its IMEI)>."},
    {"imei_mismatch", AT_SEV_ERROR,
     "The frame's IMEI is not the one the module reported (AT+CGSN).",
     "Build and sign the frame with this module's own IMEI <IMEI>; a frame made for another "
     "module is rejected."},
    {"signature_missing", AT_SEV_ERROR,
     "The frame has no signature unit (info for a module that accepts unsigned frames).",
     "Sign the bytes from CmdId up to the signature unit with the client key (<SHA-1 or "
     "SHA-256> digest, RSA PKCS#1 v1.5 on the raw digest) and append the base64 text with a "
     "NUL as the last unit."},
    {"signature_not_base64", AT_SEV_ERROR,
     "The signature unit is not padded base64 text.",
     "Encode the RSA signature as standard base64 with '=' padding and no line breaks, "
     "followed by one NUL byte."},
    {"signature_length", AT_SEV_ERROR,
     "The signature's length does not fit the verifying key's modulus.",
     "Sign with the private key of the client certificate at index 0 (its signatures are "
     "<modulus size> bytes long)."},
    {"signature_wrong_key", AT_SEV_ERROR,
     "The signature does not verify with the client certificate's key, or covers other "
     "bytes.",
     "Sign with the private key that belongs to the client certificate at index 0 (or sign "
     "exactly the bytes from CmdId up to the signature unit)."},
    {"signature_digest", AT_SEV_ERROR,
     "The signature's digest is not the one the module family expects (warning for the "
     "newer family).",
     "Sign with <SHA-1 or SHA-256> for this module."},
    {"cert_too_large", AT_SEV_ERROR,
     "The certificate is over the module family's size limit.",
     "Use a certificate of at most <limit> bytes (a shorter key, fewer extensions, a shorter "
     "chain of names)."},
    {"cert_is_pem", AT_SEV_ERROR,
     "The certificate unit holds PEM text instead of DER.",
     "Convert the certificate to DER (openssl x509 -in cert.pem -outform DER) and put those "
     "bytes in the unit."},
    {"cert_unparsable", AT_SEV_ERROR,
     "The certificate unit does not parse as a DER X.509 certificate.",
     "Put the certificate file's DER bytes in the unit, unchanged (convert PEM with openssl "
     "x509 -outform DER)."},
    {"key_too_large", AT_SEV_ERROR,
     "The private key is over the module's size limit.",
     "Use a smaller RSA key (2048 bits fits) as unencrypted PKCS#8 or PKCS#1 DER of at most "
     "<limit> bytes."},
    {"key_cert_mismatch", AT_SEV_ERROR,
     "The private key does not belong to the certificate in the same frame.",
     "Send the client certificate together with its own private key."},

    /* No cause found */
    {"secure_failure_unexplained", AT_SEV_WARNING,
     "A secure command failed and no rule found why.",
     "Usual causes: <the usual causes of that SECURE CMD result>."},

    /* Outside the secure exchange */
    {"sbnr_mismatch", AT_SEV_WARNING,
     "A ^SBNR listing disagrees with what the trace wrote or deleted.",
     "Find what changed index <index> after exchange #<exchange> (another tool, a later "
     "command, a transfer the module took differently), write it again if needed and list "
     "the store to confirm."},
    {"tls_server_not_trusted", AT_SEV_ERROR,
     "^SIS reports a TLS failure: the selected store index does not hold the server's "
     "issuer.",
     "Store the certificate of <issuer> (the issuing CA) and select its index with "
     "AT^SISS=<service>,secOpt,<index>."},
};

const at_rule *at_rules(size_t *n)
{
    if (n)
        *n = sizeof rules / sizeof rules[0];
    return rules;
}

const at_rule *at_rule_find(const char *id)
{
    if (!id)
        return NULL;
    /* A finding carries the table's own id once an_finding_init has set
     * it: later look-ups end at a pointer. Otherwise the first byte spares
     * most strcmp calls (a few per finding, each over 30 rules). */
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].id == id)
            return &rules[i];
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].id[0] == id[0] && strcmp(rules[i].id, id) == 0)
            return &rules[i];
    return NULL;
}
