/*
 * version.c - `attrace --version`: the program's version and the versions
 * of the libraries it runs with, as reported by the libraries loaded at run
 * time (not the headers it was compiled against), so that a bug report
 * names what was really in use.
 */
/* pcap.h needs the BSD types (u_int, u_char) that strict C11 hides. */
#define _DEFAULT_SOURCE 1

#include "cli.h"

#include <openssl/crypto.h>
#include <pcap/pcap.h>

int cli_print_version(FILE *out)
{
    fprintf(out, CLI_PROG " " ATTRACE_VERSION_STRING "\n");
    fprintf(out, "libpcap: %s\n", pcap_lib_version());
    fprintf(out, "OpenSSL: %s\n", OpenSSL_version(OPENSSL_VERSION));
#ifdef ATTRACE_WIRESHARK_PLUGIN_VERSION
    /* The CLI does not link Wireshark: the plugin's build names the
     * Wireshark it was compiled for (see the top-level CMakeLists.txt). */
    fprintf(out, "Wireshark plugin built for %s\n", ATTRACE_WIRESHARK_PLUGIN_VERSION);
#endif
    return fflush(out) == 0 && !ferror(out) ? 0 : 1;
}
