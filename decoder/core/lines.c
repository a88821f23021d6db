/*
 * Parsers for single text lines of an AT session (attrace/lines.h).
 *
 * Conventions used throughout:
 *  - a line is (line, len), never NUL-terminated: every access is guarded by
 *    an index compared against an end index, no helper reads past it;
 *  - positions are indexes into the line; a field becomes an at_str whose
 *    span is base_off + index, so callers can point into the stream;
 *  - no <ctype.h>, no strtol: character classes and numbers are parsed by
 *    the bounded, locale-free helpers below, and a number that does not fit
 *    its destination is a syntax error (at the digit that overflowed);
 *  - syntax errors report the stream offset of the offending byte; when the
 *    line simply ends too early, that is the offset just past its last
 *    significant byte (the byte that is missing).
 *  - every parser runs in time linear in the line length: hostile input
 *    cannot make it loop or backtrack.
 */
#include "attrace/lines.h"

#include <limits.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Character classes and small helpers                                 */
/* ------------------------------------------------------------------ */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}
/* V.250 ignores spaces in command lines; modules pad some responses with
 * them. Tabs are treated the same so a hand-typed trace still parses. */
static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static char to_upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }
/* Names are mostly written in the case they are looked up in: the equal
 * bytes need no folding. */
static bool same_char_ci(char a, char b) { return a == b || to_upper(a) == to_upper(b); }

/* V.250 5.4.1: characters of an extended command name after its prefix. */
static bool is_name_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '!' || c == '%' || c == '-' || c == '.' ||
           c == '/' || c == ':' || c == '_';
}

/* Prefixes of extended commands: '+' (V.250) and '^' (Cinterion), plus the
 * '*', '$' and '%' other vendors use, so their commands do not turn a
 * whole command line into a syntax error. */
static bool is_ext_prefix(char c)
{
    return c == '+' || c == '^' || c == '*' || c == '$' || c == '%';
}

static size_t skip_blanks(const char *s, size_t i, size_t end)
{
    while (i < end && is_blank(s[i]))
        i++;
    return i;
}

/* End index of [start, end) with trailing blanks removed. */
static size_t rtrim(const char *s, size_t start, size_t end)
{
    while (end > start && is_blank(s[end - 1]))
        end--;
    return end;
}

static at_span mkspan(uint64_t base, size_t pos, size_t n)
{
    at_span sp;
    sp.off = base + pos;
    sp.len = (uint32_t)n; /* lines longer than UINT32_MAX are rejected on entry */
    return sp;
}

static at_str mkstr(const char *line, uint64_t base, size_t pos, size_t n)
{
    at_str s;
    s.ptr = line + pos;
    s.len = n;
    s.span = mkspan(base, pos, n);
    return s;
}

static const at_str no_str = {NULL, 0, {0, 0}};

static at_status syntax(uint64_t *err_off, uint64_t base, size_t pos)
{
    if (err_off)
        *err_off = base + pos;
    return AT_ERR_SYNTAX;
}

/* A span length is 32 bits: longer lines (which no tokenizer produces) are
 * refused rather than reported with wrong spans. On 32-bit targets no
 * size_t can be that long, and the comparison would draw -Wtype-limits. */
static bool too_long(size_t len)
{
#if SIZE_MAX > UINT32_MAX
    return len > UINT32_MAX;
#else
    (void)len;
    return false;
#endif
}

/* Common argument checks. */
static at_status check_line(const char *line, size_t len, const void *out)
{
    if (!line || !out)
        return AT_ERR_ARG;
    if (too_long(len))
        return AT_ERR_TOO_LONG;
    return AT_OK;
}

/*
 * Number of leading bytes of s[pos, end) that equal the NUL-terminated
 * literal @p lit, ignoring ASCII case when @p ci. The match is complete when
 * the result equals strlen(lit); otherwise pos + result is the first byte
 * that differs (or the end of the line), i.e. the offending byte.
 */
static size_t match_lit(const char *s, size_t pos, size_t end, const char *lit, bool ci)
{
    size_t k = 0;
    while (lit[k] && pos + k < end) {
        char a = s[pos + k], b = lit[k];
        if (ci ? !same_char_ci(a, b) : a != b)
            break;
        k++;
    }
    return k;
}

/* Like match_lit but for a whole-token check: true if s[pos, end) starts
 * with @p lit; on mismatch *bad is the offending index. */
static bool expect_lit(const char *s, size_t pos, size_t end, const char *lit, bool ci, size_t *bad)
{
    size_t k = match_lit(s, pos, end, lit, ci);
    if (lit[k] == '\0')
        return true;
    *bad = pos + k;
    return false;
}

/* A literal with its length, for the tables searched on every line. */
typedef struct lit_text {
    const char *s;
    size_t len;
} lit_text;

#define LIT_TEXT(lit) {lit, sizeof lit - 1}

static bool eq_lit(const char *s, size_t start, size_t end, lit_text lit)
{
    return end - start == lit.len && memcmp(s + start, lit.s, lit.len) == 0;
}

/*
 * Parses the decimal digits at s[*pos, end) into *val. At least one digit is
 * required and the value must not exceed @p max. On success *pos is just
 * past the digits; on failure *pos is the offending byte (the non-digit
 * where a digit was required, or the digit that made the value overflow).
 */
static bool parse_dec(const char *s, size_t *pos, size_t end, uint64_t max, uint64_t *val)
{
    size_t i = *pos;
    uint64_t v = 0;
    const uint64_t lim = max / 10, last = max % 10; /* once, not per digit */
    if (i >= end || !is_digit(s[i]))
        return false;
    for (; i < end && is_digit(s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > lim || (v == lim && d > last)) {
            *pos = i;
            return false;
        }
        v = v * 10 + d;
    }
    *pos = i;
    *val = v;
    return true;
}

/* Index of the first @p c in s[from, end), or end. */
static size_t find_char(const char *s, size_t from, size_t end, char c)
{
    const void *p = from < end ? memchr(s + from, c, end - from) : NULL;
    return p ? (size_t)((const char *)p - s) : end;
}

size_t at_command_start(const uint8_t *line, size_t len)
{
    for (size_t k = 0; k + 1 < len; k++)
        if ((line[k] == 'A' || line[k] == 'a') &&
            (line[k + 1] == 'T' || line[k + 1] == 't' || line[k + 1] == '/'))
            return k;
    return len;
}

bool at_name_is(const at_str *name, const char *want)
{
    if (!name || !name->ptr || !want)
        return false;
    /* One pass over want, no strlen: most names differ in the first
     * character (the session and the analyzer ask about every command). */
    size_t i = 0;
    for (; want[i]; i++)
        if (i == name->len || !same_char_ci(name->ptr[i], want[i]))
            return false;
    return i == name->len;
}

bool at_name_is_n(const at_str *name, const char *want, size_t want_len)
{
    if (!name || !name->ptr || !want || name->len != want_len)
        return false;
    for (size_t i = 0; i < want_len; i++)
        if (!same_char_ci(name->ptr[i], want[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------ */
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

typedef struct cmd_ctx {
    const char *s;
    size_t end; /* trailing blanks excluded */
    uint64_t base;
    uint64_t *err_off;
} cmd_ctx;

static void add_param(at_command *cmd, at_str v, bool quoted)
{
    if (cmd->n_params >= AT_CMD_MAX_PARAMS) {
        cmd->params_dropped = true;
        return;
    }
    cmd->params[cmd->n_params] = v;
    cmd->param_quoted[cmd->n_params] = quoted;
    cmd->n_params++;
}

/*
 * Parameters of an extended set command, from *pos (just after '=') up to
 * the ';' that ends the command or the end of the line. Parameters are split
 * on commas outside double quotes; a quoted parameter is stored without its
 * quotes (its span still covers them), an unquoted one with surrounding
 * blanks removed. Inside a string V.250 writes a quote as "\22", never raw,
 * so the first quote after the opening one closes it; escapes are left as
 * written. "AT+X=" has no parameters, "AT+X=," two empty ones.
 */
static at_status parse_params(const cmd_ctx *c, size_t *pos, at_command *cmd, size_t *last)
{
    const char *s = c->s;
    size_t i = skip_blanks(s, *pos, c->end);
    if (i >= c->end || s[i] == ';') {
        *pos = i;
        return AT_OK;
    }
    for (;;) {
        i = skip_blanks(s, i, c->end);
        if (i < c->end && s[i] == '"') {
            size_t close = find_char(s, i + 1, c->end, '"');
            if (close >= c->end)
                return syntax(c->err_off, c->base, i); /* unterminated string */
            at_str v = mkstr(s, c->base, i + 1, close - i - 1);
            v.span = mkspan(c->base, i, close - i + 1);
            add_param(cmd, v, true);
            *last = close + 1;
            i = skip_blanks(s, close + 1, c->end);
            if (i < c->end && s[i] != ',' && s[i] != ';')
                return syntax(c->err_off, c->base, i); /* text glued to a string */
        } else {
            size_t start = i;
            while (i < c->end && s[i] != ',' && s[i] != ';') {
                if (s[i] == '"') /* a quote inside an unquoted value */
                    return syntax(c->err_off, c->base, i);
                i++;
            }
            size_t e = rtrim(s, start, i);
            add_param(cmd, mkstr(s, c->base, start, e - start), false);
            if (e > start)
                *last = e;
        }
        if (i >= c->end || s[i] == ';')
            break;
        *last = i + 1; /* the comma belongs to the command */
        i++;
    }
    *pos = i;
    return AT_OK;
}

/* "+NAME", "+NAME?", "+NAME=?", "+NAME=p1,p2"; ends before ';' or at the end. */
static at_status parse_extended(const cmd_ctx *c, size_t *pos, at_command *cmd)
{
    const char *s = c->s;
    size_t start = *pos, i = start + 1;
    while (i < c->end && is_name_char(s[i]))
        i++;
    if (i == start + 1)
        return syntax(c->err_off, c->base, i); /* prefix without a name */
    cmd->name = mkstr(s, c->base, start, i - start);
    cmd->type = AT_CMDT_EXEC;
    size_t last = i; /* end of the command's own text */
    i = skip_blanks(s, i, c->end);
    if (i < c->end && s[i] == '?') {
        cmd->type = AT_CMDT_READ;
        last = ++i;
    } else if (i < c->end && s[i] == '=') {
        last = ++i;
        size_t j = skip_blanks(s, i, c->end);
        if (j < c->end && s[j] == '?') {
            cmd->type = AT_CMDT_TEST;
            last = i = j + 1;
        } else {
            cmd->type = AT_CMDT_SET;
            at_status st = parse_params(c, &i, cmd, &last);
            if (st != AT_OK)
                return st;
        }
    }
    i = skip_blanks(s, i, c->end);
    if (i < c->end && s[i] != ';')
        return syntax(c->err_off, c->base, i); /* V.250: ';' must separate */
    cmd->span = mkspan(c->base, start, last - start);
    *pos = i;
    return AT_OK;
}

/* Optional decimal value after a basic command ("E0", "&F1", "\Q3"). */
static size_t basic_value(const cmd_ctx *c, size_t i, at_command *cmd, size_t *last)
{
    size_t j = skip_blanks(c->s, i, c->end);
    size_t d = j;
    while (d < c->end && is_digit(c->s[d]))
        d++;
    if (d == j)
        return i; /* no value: blanks belong to whatever follows */
    cmd->basic_value = mkstr(c->s, c->base, j, d - j);
    *last = d;
    return d;
}

/*
 * One basic command (V.250 5.3.1): a letter, '&'/'\' plus a letter, the
 * S-register forms "Sn=v" / "Sn?", or D whose dial string is the rest of
 * the line.
 */
static at_status parse_basic(const cmd_ctx *c, size_t *pos, at_command *cmd)
{
    const char *s = c->s;
    size_t start = *pos, i = start, last;
    cmd->type = AT_CMDT_EXEC;
    if (s[i] == '&' || s[i] == '\\') {
        if (i + 1 >= c->end || !is_alpha(s[i + 1]))
            return syntax(c->err_off, c->base, i + 1);
        cmd->name = mkstr(s, c->base, i, 2);
        last = i + 2;
        i = basic_value(c, i + 2, cmd, &last);
    } else if (!is_alpha(s[i])) {
        return syntax(c->err_off, c->base, i);
    } else if (to_upper(s[i]) == 'D') {
        /* Dial: everything up to the end of the line is the dial string,
         * including ';' (voice call) and any quotes. */
        cmd->name = mkstr(s, c->base, i, 1);
        last = c->end;
        size_t d = skip_blanks(s, i + 1, c->end);
        if (d < c->end)
            add_param(cmd, mkstr(s, c->base, d, c->end - d), false);
        i = c->end;
    } else if (to_upper(s[i]) == 'S') {
        size_t d = i + 1;
        while (d < c->end && is_digit(s[d]))
            d++;
        cmd->name = mkstr(s, c->base, i, d - i); /* "S0"; plain "S" is legal too */
        last = d;
        size_t j = skip_blanks(s, d, c->end);
        if (j < c->end && s[j] == '?') {
            cmd->type = AT_CMDT_READ;
            last = i = j + 1;
        } else if (j < c->end && s[j] == '=') {
            cmd->type = AT_CMDT_SET;
            size_t v = skip_blanks(s, j + 1, c->end), e = v;
            while (e < c->end && is_digit(s[e]))
                e++;
            cmd->basic_value = mkstr(s, c->base, v, e - v); /* may be empty: default */
            last = e > v ? e : j + 1;
            i = e;
        } else {
            i = d;
        }
    } else {
        cmd->name = mkstr(s, c->base, i, 1);
        last = i + 1;
        i = basic_value(c, i + 1, cmd, &last);
    }
    cmd->span = mkspan(c->base, start, last - start);
    *pos = i;
    return AT_OK;
}

/* A command with nothing parsed yet; parameters are written as they are
 * counted, so the slots beyond n_params are left as they are. */
static void clear_command(at_command *cmd)
{
    cmd->name = (at_str){0};
    cmd->type = AT_CMDT_EXEC;
    cmd->n_params = 0;
    cmd->params_dropped = false;
    cmd->basic_value = (at_str){0};
    cmd->span = (at_span){0};
}

/* at_parse_cmdline after the checks, into an out with no command yet. */
static at_status parse_cmdline(const char *line, size_t len, uint64_t base_off,
                               at_cmdline *out, uint64_t *err_off)
{
    at_status st;
    cmd_ctx c = {line, rtrim(line, 0, len), base_off, err_off};
    /* "AT" in any letter case (V.250 requires "AT" and "at"; modules take
     * "At" and "aT" as well), or "A/" - which repeats the previous line and
     * takes nothing after it. */
    if (c.end == 0 || to_upper(line[0]) != 'A')
        return syntax(err_off, base_off, 0);
    if (c.end < 2)
        return syntax(err_off, base_off, 1);
    if (line[1] == '/') {
        if (c.end != 2)
            return syntax(err_off, base_off, 2);
        clear_command(&out->cmds[0]);
        out->cmds[0].name = mkstr(line, base_off, 0, 2);
        out->cmds[0].type = AT_CMDT_REPEAT;
        out->cmds[0].span = mkspan(base_off, 0, 2);
        out->n_cmds = 1;
        return AT_OK;
    }
    if (to_upper(line[1]) != 'T')
        return syntax(err_off, base_off, 1);

    /* Commands beyond AT_CMD_MAX_CHAIN are still parsed (the line must be
     * valid as a whole) into a scratch entry, and counted as dropped. */
    at_command scratch;
    size_t i = 2;
    for (;;) {
        /* ';' is the required separator after an extended command; after
         * a basic one (ATE0;V1) it is tolerated, as host software sends it. */
        while (i < c.end && (is_blank(line[i]) || line[i] == ';'))
            i++;
        if (i >= c.end)
            break;
        at_command *cmd = &scratch;
        if (out->n_cmds < AT_CMD_MAX_CHAIN)
            cmd = &out->cmds[out->n_cmds];
        clear_command(cmd);
        st = is_ext_prefix(line[i]) ? parse_extended(&c, &i, cmd) : parse_basic(&c, &i, cmd);
        if (st != AT_OK)
            return st;
        if (cmd == &scratch)
            out->cmds_dropped = true;
        else
            out->n_cmds++;
    }
    return AT_OK;
}

at_status at_parse_cmdline(const char *line, size_t len, uint64_t base_off,
                           at_cmdline *out, uint64_t *err_off)
{
    at_status st = check_line(line, len, out);
    if (st != AT_OK)
        return st;
    /* Only what the count covers is written: clearing all eight slots of
     * kilobytes per line was most of the parse. */
    out->n_cmds = 0;
    out->cmds_dropped = false;
    st = parse_cmdline(line, len, base_off, out, err_off);
    if (st != AT_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ------------------------------------------------------------------ */
/* Result codes                                                        */
/* ------------------------------------------------------------------ */

static const struct {
    lit_text text;
    at_result_kind kind;
} verbose_results[] = {
    {LIT_TEXT("OK"), AT_RES_OK},
    {LIT_TEXT("ERROR"), AT_RES_ERROR},
    {LIT_TEXT("RING"), AT_RES_RING},
    {LIT_TEXT("NO CARRIER"), AT_RES_NO_CARRIER},
    {LIT_TEXT("NO DIALTONE"), AT_RES_NO_DIALTONE},
    {LIT_TEXT("BUSY"), AT_RES_BUSY},
    {LIT_TEXT("NO ANSWER"), AT_RES_NO_ANSWER},
};

/* ATV0 digits (V.250 table 1); 5 has no V.250 meaning. */
static const at_result_kind numeric_results[10] = {
    AT_RES_OK, AT_RES_CONNECT, AT_RES_RING, AT_RES_NO_CARRIER, AT_RES_ERROR,
    AT_RES_NONE, AT_RES_NO_DIALTONE, AT_RES_BUSY, AT_RES_NO_ANSWER, AT_RES_NONE,
};

/* "+CME ERROR: <n|text>": number when all digits and it fits, text always. */
static void parse_error_arg(const char *line, size_t i, size_t end, uint64_t base, at_result *out)
{
    i = skip_blanks(line, i, end);
    if (i >= end)
        return;
    out->text = mkstr(line, base, i, end - i);
    size_t p = i;
    uint64_t v;
    if (parse_dec(line, &p, end, UINT_MAX, &v) && p == end) {
        out->has_code = true;
        out->code = (unsigned)v;
    }
}

/*
 * Result codes are matched exactly and case-sensitively: modules send them
 * in upper case, and a looser match would take information text ("Ok, ...")
 * for a final result and end an exchange early. Only trailing blanks are
 * tolerated. Verbose forms are also recognised in numeric mode, since the
 * session's idea of ATV0 can be wrong (a failed ATV0, a module reset).
 */
at_status at_parse_result(const char *line, size_t len, uint64_t base_off,
                          bool numeric_mode, at_result *out)
{
    at_status st = check_line(line, len, out);
    if (st != AT_OK)
        return st;
    memset(out, 0, sizeof *out);
    out->text = no_str;
    size_t n = rtrim(line, 0, len);
    if (n == 0)
        return AT_OK;

    if (numeric_mode && n == 1 && is_digit(line[0])) {
        out->kind = numeric_results[line[0] - '0'];
        out->numeric = out->kind != AT_RES_NONE;
        return AT_OK;
    }
    for (size_t k = 0; k < sizeof verbose_results / sizeof verbose_results[0]; k++) {
        if (eq_lit(line, 0, n, verbose_results[k].text)) {
            out->kind = verbose_results[k].kind;
            return AT_OK;
        }
    }
    /* The first byte tells most lines from the forms below (every line
     * of an answer comes here). */
    if (line[0] == 'C' && match_lit(line, 0, n, "CONNECT", false) == 7 &&
        (n == 7 || line[7] == ' ')) {
        out->kind = AT_RES_CONNECT;
        size_t t = skip_blanks(line, 7, n);
        if (t < n)
            out->text = mkstr(line, base_off, t, n - t);
        return AT_OK;
    }
    if (line[0] != '+')
        return AT_OK;
    if (match_lit(line, 0, n, "+CME ERROR:", false) == 11) {
        out->kind = AT_RES_CME_ERROR;
        parse_error_arg(line, 11, n, base_off, out);
    } else if (match_lit(line, 0, n, "+CMS ERROR:", false) == 11) {
        out->kind = AT_RES_CMS_ERROR;
        parse_error_arg(line, 11, n, base_off, out);
    }
    return AT_OK;
}

bool at_result_is_final(at_result_kind kind)
{
    switch (kind) {
    case AT_RES_OK:
    case AT_RES_ERROR:
    case AT_RES_NO_CARRIER:
    case AT_RES_NO_DIALTONE:
    case AT_RES_BUSY:
    case AT_RES_NO_ANSWER:
    case AT_RES_CME_ERROR:
    case AT_RES_CMS_ERROR:
        return true;
    case AT_RES_NONE:
    case AT_RES_CONNECT:
    case AT_RES_RING:
        break;
    }
    return false;
}

const char *at_result_name(at_result_kind kind)
{
    switch (kind) {
    case AT_RES_NONE: return "none";
    case AT_RES_OK: return "OK";
    case AT_RES_CONNECT: return "CONNECT";
    case AT_RES_RING: return "RING";
    case AT_RES_NO_CARRIER: return "NO CARRIER";
    case AT_RES_ERROR: return "ERROR";
    case AT_RES_NO_DIALTONE: return "NO DIALTONE";
    case AT_RES_BUSY: return "BUSY";
    case AT_RES_NO_ANSWER: return "NO ANSWER";
    case AT_RES_CME_ERROR: return "+CME ERROR";
    case AT_RES_CMS_ERROR: return "+CMS ERROR";
    }
    return "unknown";
}

/*
 * 3GPP TS 27.007 clause 9.2 (general errors 9.2.1, GPRS/EPS errors 9.2.2),
 * wording as in the standard. Left out on purpose: 151..165, whose meaning
 * changed between releases, and numbers above 255, which vendors define
 * differently (the same 257..264 mean different things on different
 * modules); a wrong explanation is worse than none.
 */
static const struct {
    uint16_t code;
    const char *text;
} cme_texts[] = {
    {0, "phone failure"},
    {1, "no connection to phone"},
    {2, "phone-adaptor link reserved"},
    {3, "operation not allowed"},
    {4, "operation not supported"},
    {5, "PH-SIM PIN required"},
    {6, "PH-FSIM PIN required"},
    {7, "PH-FSIM PUK required"},
    {10, "SIM not inserted"},
    {11, "SIM PIN required"},
    {12, "SIM PUK required"},
    {13, "SIM failure"},
    {14, "SIM busy"},
    {15, "SIM wrong"},
    {16, "incorrect password"},
    {17, "SIM PIN2 required"},
    {18, "SIM PUK2 required"},
    {20, "memory full"},
    {21, "invalid index"},
    {22, "not found"},
    {23, "memory failure"},
    {24, "text string too long"},
    {25, "invalid characters in text string"},
    {26, "dial string too long"},
    {27, "invalid characters in dial string"},
    {30, "no network service"},
    {31, "network timeout"},
    {32, "network not allowed - emergency calls only"},
    {40, "network personalization PIN required"},
    {41, "network personalization PUK required"},
    {42, "network subset personalization PIN required"},
    {43, "network subset personalization PUK required"},
    {44, "service provider personalization PIN required"},
    {45, "service provider personalization PUK required"},
    {46, "corporate personalization PIN required"},
    {47, "corporate personalization PUK required"},
    {48, "hidden key required"},
    {49, "EAP method not supported"},
    {50, "Incorrect parameters"},
    {51, "command implemented but currently disabled"},
    {52, "command aborted by user"},
    {53, "not attached to network due to MT functionality restrictions"},
    {54, "modem not allowed - MT restricted to emergency calls only"},
    {55, "operation not allowed because of MT functionality restrictions"},
    {56, "fixed dial number only allowed - called number is not a fixed dial number"},
    {57, "temporarily out of service due to other MT usage"},
    {58, "language/alphabet not supported"},
    {59, "unexpected data value"},
    {60, "system failure"},
    {61, "data missing"},
    {62, "call barred"},
    {63, "message waiting indication subscription failure"},
    {100, "unknown"},
    {103, "Illegal MS"},
    {106, "Illegal ME"},
    {107, "GPRS services not allowed"},
    {108, "GPRS services and non-GPRS services not allowed"},
    {111, "PLMN not allowed"},
    {112, "Location area not allowed"},
    {113, "Roaming not allowed in this location area"},
    {114, "GPRS services not allowed in this PLMN"},
    {115, "No Suitable Cells In Location Area"},
    {122, "Congestion"},
    {125, "Not authorized for this CSG"},
    {126, "insufficient resources"},
    {127, "missing or unknown APN"},
    {128, "unknown PDP address or PDP type"},
    {129, "user authentication failed"},
    {130, "activation rejected by GGSN, Serving GW or PDN GW"},
    {131, "activation rejected, unspecified"},
    {132, "service option not supported"},
    {133, "requested service option not subscribed"},
    {134, "service option temporarily out of order"},
    {140, "feature not supported"},
    {141, "semantic error in the TFT operation"},
    {142, "syntactical error in the TFT operation"},
    {143, "unknown PDP context"},
    {144, "semantic errors in packet filter(s)"},
    {145, "syntactical errors in packet filter(s)"},
    {146, "PDP context without TFT already activated"},
    {148, "unspecified GPRS error"},
    {149, "PDP authentication failure"},
    {150, "invalid mobile class"},
    {171, "Last PDN disconnection not allowed"},
    {172, "Semantically incorrect message"},
    {173, "Mandatory information element error"},
    {174, "Information element non-existent or not implemented"},
    {175, "Conditional IE error"},
    {176, "Protocol error, unspecified"},
    {177, "Operator Determined Barring"},
    {178, "maximum number of PDP contexts reached"},
    {179, "requested APN not supported in current RAT and PLMN combination"},
    {180, "request rejected, Bearer Control Mode violation"},
    {181, "unsupported QCI value"},
};

const char *at_cme_error_text(unsigned code)
{
    for (size_t k = 0; k < sizeof cme_texts / sizeof cme_texts[0]; k++)
        if (cme_texts[k].code == code)
            return cme_texts[k].text;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* SECURE CMD result strings                                           */
/* ------------------------------------------------------------------ */

static const struct {
    lit_text text; /* after "SECURE CMD " */
    at_secure_result r;
} secure_texts[] = {
    {LIT_TEXT("END OK"), AT_SEC_END_OK},
    {LIT_TEXT("ERROR"), AT_SEC_ERROR},
    {LIT_TEXT("LENGTH ERROR"), AT_SEC_LENGTH_ERROR},
    {LIT_TEXT("TO MANY DATA ERROR"), AT_SEC_TOO_MANY_DATA},  /* manual spelling */
    {LIT_TEXT("TOO MANY DATA ERROR"), AT_SEC_TOO_MANY_DATA}, /* seen on a BGS2 */
    {LIT_TEXT("PUBLIC CERTIFICATE IS CORRUPTED"), AT_SEC_CERT_CORRUPTED},
    {LIT_TEXT("PRIVATE KEY WAS REMOVED"), AT_SEC_KEY_REMOVED},
    {LIT_TEXT("SERVICE TIMEOUT ERROR"), AT_SEC_SERVICE_TIMEOUT},
};

at_secure_result at_parse_secure_result(const char *line, size_t len)
{
    /* Every module line comes here: most are told apart by their first
     * byte, before the trailing blanks are looked at. */
    if (!line || len < 10 || line[0] != 'S')
        return AT_SEC_NONE;
    size_t n = rtrim(line, 0, len);
    if (n < 10 || match_lit(line, 0, n, "SECURE CMD", false) != 10 ||
        (n > 10 && line[10] != ' ' && line[10] != ':'))
        return AT_SEC_NONE;
    if (n <= 11)
        return AT_SEC_OTHER;
    /* READY is a prefix: the text after it ("SEND COMMAND ...") varies. */
    if (match_lit(line, 11, n, "READY", false) == 5 &&
        (n == 16 || line[16] == ':' || line[16] == ' '))
        return AT_SEC_READY;
    for (size_t k = 0; k < sizeof secure_texts / sizeof secure_texts[0]; k++)
        if (eq_lit(line, 11, n, secure_texts[k].text))
            return secure_texts[k].r;
    return AT_SEC_OTHER;
}

const char *at_secure_result_name(at_secure_result r)
{
    switch (r) {
    case AT_SEC_NONE: return "none";
    case AT_SEC_READY: return "ready";
    case AT_SEC_END_OK: return "end_ok";
    case AT_SEC_ERROR: return "error";
    case AT_SEC_LENGTH_ERROR: return "length_error";
    case AT_SEC_TOO_MANY_DATA: return "too_many_data";
    case AT_SEC_CERT_CORRUPTED: return "cert_corrupted";
    case AT_SEC_KEY_REMOVED: return "key_removed";
    case AT_SEC_SERVICE_TIMEOUT: return "service_timeout";
    case AT_SEC_OTHER: return "other";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* ^SBNR                                                               */
/* ------------------------------------------------------------------ */

/* Separators between the quoted values: each starts with the closing quote
 * of the value before and ends with the opening quote of the next one. */
#define K_SERIAL "\", serial number: \""
#define K_SUBJECT "\", subject: \""
#define K_SIG "\", signature: \""
#define K_TALG "\", thumbprint algorithm: \""
#define K_THUMB "\", thumbprint: \""
#define K_EXPIRY "\", expiry date: \""

/*
 * Reads one of the trailing fields right to left. @p vend is the index of
 * the value's closing quote. Tail values (algorithms, thumbprint, date)
 * never contain quotes, so the value opens at the last quote before vend,
 * and the separator @p key must end exactly there. On success *vstart is
 * the value's first byte and *prev the closing quote of the field before.
 * On failure *bad is the rightmost byte that does not fit.
 */
static bool tail_field(const char *s, size_t lo, size_t vend, const char *key,
                       size_t *vstart, size_t *prev, size_t *bad)
{
    size_t q = vend;
    while (q > lo && s[q - 1] != '"')
        q--;
    if (q == lo) {
        *bad = vend;
        return false;
    }
    q--; /* the opening quote, the last byte of key */
    size_t klen = strlen(key);
    for (size_t k = 0; k < klen; k++) {
        if (q < lo + k) {
            *bad = lo;
            return false;
        }
        if (s[q - k] != key[klen - 1 - k]) {
            *bad = q - k;
            return false;
        }
    }
    *vstart = q + 1;
    *prev = q + 1 - klen;
    return true;
}

/* "2035,10,29": year, month, day. Other separators ('-', '/', '.') are taken
 * too, should a firmware print ISO-like dates. */
static at_status parse_expiry(const char *s, size_t i, size_t end, uint64_t base,
                              at_sbnr *out, uint64_t *err_off)
{
    static const uint64_t lim_lo[3] = {0, 1, 1}, lim_hi[3] = {9999, 12, 31};
    unsigned v3[3];
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            if (i >= end || (s[i] != ',' && s[i] != '-' && s[i] != '/' && s[i] != '.'))
                return syntax(err_off, base, i);
            i++;
        }
        size_t first = i;
        uint64_t v;
        if (!parse_dec(s, &i, end, UINT32_MAX, &v))
            return syntax(err_off, base, i);
        if (v < lim_lo[k] || v > lim_hi[k])
            return syntax(err_off, base, first);
        v3[k] = (unsigned)v;
    }
    if (i != end)
        return syntax(err_off, base, i);
    out->expiry_year = v3[0];
    out->expiry_month = v3[1];
    out->expiry_day = v3[2];
    return AT_OK;
}

/*
 * ^SBNR: <i>, size: "<n>", issuer: "<DN>", serial number: "<hex>",
 *        subject: "<DN>", signature: "<alg>", thumbprint algorithm: "<alg>",
 *        thumbprint: "<hex>"[, expiry date: "<y>,<m>,<d>"]
 *
 * DNs are printed unescaped and may contain '/', ',' and '"', so the line
 * cannot be split on either. It is split structurally instead: the head up
 * to the issuer is fixed, the tail from the subject's end is read right to
 * left (its values contain no quotes), and what remains in the middle is
 * <issuer>", serial number: "<hex>", subject: "<subject>, split at the
 * first place where that separator, a hex serial and the subject
 * separator follow each other. Only a DN that itself contains
 * `", serial number: "<hex>", subject: "` can fool this.
 */
at_status at_parse_sbnr(const char *line, size_t len, uint64_t base_off,
                        at_sbnr *out, uint64_t *err_off)
{
    at_status st = check_line(line, len, out);
    if (st != AT_OK)
        return st;
    memset(out, 0, sizeof *out);
    out->size_text = out->issuer = out->serial = out->subject = no_str;
    out->signature = out->thumb_alg = out->thumbprint = out->expiry = no_str;

    const char *s = line;
    size_t n = rtrim(s, 0, len), i, bad = 0;
    uint64_t v;
    if (!expect_lit(s, 0, n, "^SBNR:", true, &bad))
        return syntax(err_off, base_off, bad);
    i = skip_blanks(s, 6, n);
    size_t idx0 = i;
    if (!parse_dec(s, &i, n, UINT_MAX, &v))
        return syntax(err_off, base_off, i);
    out->index = (unsigned)v;
    out->index_span = mkspan(base_off, idx0, i - idx0);
    i = skip_blanks(s, i, n);
    if (i >= n || s[i] != ',')
        return syntax(err_off, base_off, i);
    i = skip_blanks(s, i + 1, n);

    size_t k = match_lit(s, i, n, "certificate is corrupted", true);
    if (i + k == n && k == strlen("certificate is corrupted")) {
        out->kind = AT_SBNR_CORRUPTED;
        return AT_OK;
    }

    if (!expect_lit(s, i, n, "size: \"", false, &bad))
        return syntax(err_off, base_off, bad);
    i += 7;
    size_t size0 = i;
    if (!parse_dec(s, &i, n, UINT32_MAX, &v))
        return syntax(err_off, base_off, i);
    out->size = (uint32_t)v;
    out->size_text = mkstr(s, base_off, size0, i - size0);
    if (!expect_lit(s, i, n, "\", issuer: \"", false, &bad))
        return syntax(err_off, base_off, bad);
    size_t lo = i + strlen("\", issuer: \""); /* first byte of the issuer */

    /* Tail, right to left. */
    if (n <= lo || s[n - 1] != '"')
        return syntax(err_off, base_off, n);
    size_t vend = n - 1, vstart, prev;
    if (tail_field(s, lo, vend, K_EXPIRY, &vstart, &prev, &bad)) {
        out->has_expiry = true;
        out->expiry = mkstr(s, base_off, vstart, vend - vstart);
        vend = prev;
    }
    if (!tail_field(s, lo, vend, K_THUMB, &vstart, &prev, &bad))
        return syntax(err_off, base_off, bad);
    out->thumbprint = mkstr(s, base_off, vstart, vend - vstart);
    vend = prev;
    if (!tail_field(s, lo, vend, K_TALG, &vstart, &prev, &bad))
        return syntax(err_off, base_off, bad);
    out->thumb_alg = mkstr(s, base_off, vstart, vend - vstart);
    vend = prev;
    if (!tail_field(s, lo, vend, K_SIG, &vstart, &prev, &bad))
        return syntax(err_off, base_off, bad);
    out->signature = mkstr(s, base_off, vstart, vend - vstart);
    size_t subj_end = prev; /* the subject's closing quote */

    /* Middle: issuer, serial, subject. Each K_SERIAL occurrence is followed
     * by at most one hex run, and runs cannot overlap occurrences (the
     * separator holds non-hex bytes), so this loop is linear. */
    const size_t ks = strlen(K_SERIAL), kj = strlen(K_SUBJECT);
    bool found = false;
    for (size_t p = lo; p + ks + kj <= subj_end; p++) {
        if (s[p] != '"' || memcmp(s + p, K_SERIAL, ks) != 0)
            continue;
        size_t h = p + ks;
        while (h < subj_end && is_hex(s[h]))
            h++;
        if (h + kj > subj_end || memcmp(s + h, K_SUBJECT, kj) != 0)
            continue;
        out->issuer = mkstr(s, base_off, lo, p - lo);
        out->serial = mkstr(s, base_off, p + ks, h - (p + ks));
        out->subject = mkstr(s, base_off, h + kj, subj_end - (h + kj));
        found = true;
        break;
    }
    if (!found) /* point at the first quote after the issuer's start */
        return syntax(err_off, base_off, find_char(s, lo, subj_end, '"'));

    if (out->has_expiry && out->expiry.len > 0) {
        size_t e0 = (size_t)(out->expiry.ptr - s);
        st = parse_expiry(s, e0, e0 + out->expiry.len, base_off, out, err_off);
        if (st != AT_OK)
            return st;
    }
    if (out->size == 0 && out->issuer.len == 0 && out->serial.len == 0 &&
        out->subject.len == 0 && out->signature.len == 0 && out->thumb_alg.len == 0 &&
        out->thumbprint.len == 0)
        out->kind = AT_SBNR_EMPTY;
    return AT_OK;
}

/* ------------------------------------------------------------------ */
/* +CIEV                                                               */
/* ------------------------------------------------------------------ */

static at_status ciev_split(const char *line, size_t len, uint64_t base, at_str *name,
                            at_str *rest, bool *quoted, uint64_t *err_off)
{
    size_t n = rtrim(line, 0, len), i, bad = 0;
    *name = *rest = no_str;
    *quoted = false;
    if (!expect_lit(line, 0, n, "+CIEV:", true, &bad))
        return syntax(err_off, base, bad);
    i = skip_blanks(line, 6, n);
    size_t n0, n1;
    if (i < n && line[i] == '"') {
        n0 = i + 1;
        n1 = find_char(line, n0, n, '"');
        if (n1 >= n)
            return syntax(err_off, base, i); /* unterminated name */
        *quoted = true;
        i = skip_blanks(line, n1 + 1, n);
        if (i < n && line[i] != ',')
            return syntax(err_off, base, i);
    } else {
        n0 = i;
        i = find_char(line, i, n, ',');
        n1 = rtrim(line, n0, i);
    }
    if (n1 == n0)
        return syntax(err_off, base, n0); /* no indicator name */
    *name = mkstr(line, base, n0, n1 - n0);
    if (i < n) { /* line[i] == ',' */
        size_t r = skip_blanks(line, i + 1, n);
        *rest = mkstr(line, base, r, n - r);
    }
    return AT_OK;
}

at_status at_parse_ciev(const char *line, size_t len, uint64_t base_off,
                        at_str *name, at_str *rest, uint64_t *err_off)
{
    at_status st = check_line(line, len, name);
    if (st != AT_OK)
        return st;
    if (!rest)
        return AT_ERR_ARG;
    bool quoted;
    return ciev_split(line, len, base_off, name, rest, &quoted, err_off);
}

/* Field [a, b) with surrounding blanks removed. */
static at_str trimmed(const char *s, uint64_t base, size_t a, size_t b)
{
    a = skip_blanks(s, a, b);
    b = rtrim(s, a, b);
    return mkstr(s, base, a, b - a);
}

/* Index of the last @p c in s[lo, end), or SIZE_MAX. */
static size_t rfind_char(const char *s, size_t lo, size_t end, char c)
{
    while (end > lo) {
        end--;
        if (s[end] == c)
            return end;
    }
    return SIZE_MAX;
}

/*
 * +CIEV: is_cert,<id>,<issuer>,<serial>,<subject>,<sig alg>,<thumb alg>,<thumbprint>
 *
 * Fields are unquoted and DNs may contain commas, so the comma count says
 * nothing. The split:
 *  1. <id> is the first field, digits.
 *  2. <sig alg>, <thumb alg> and <thumbprint> never contain commas: they are
 *     the last three comma-separated fields.
 *  3. What is left, "<issuer>,<serial>,<subject>", has at least two commas.
 *     The serial is a field between two consecutive commas that is a
 *     non-empty run of hex digits. A DN piece between commas is rarely all
 *     hex (it would need ",CAFE," with no '=', '/' or space), but it can be,
 *     so candidates are ranked: one after which the subject starts with '/'
 *     (the module's one-line DN format, "/C=DE/...") beats one after which
 *     it does not; among equals the leftmost wins. This gets "/O=A, Inc."
 *     (comma), "/OU=Dept,BEEF" at the end of the issuer (hex piece, subject
 *     would not start with '/') and ",DEAD," inside the subject right; it
 *     fails only when a DN contains ",<hex>,/", which no rule can tell
 *     apart from a real boundary.
 */
at_status at_parse_ciev_is_cert(const char *line, size_t len, uint64_t base_off,
                                at_ciev_is_cert *out, uint64_t *err_off)
{
    at_status st = check_line(line, len, out);
    if (st != AT_OK)
        return st;
    memset(out, 0, sizeof *out);
    out->issuer = out->serial = out->subject = no_str;
    out->sig_alg = out->thumb_alg = out->thumbprint = no_str;

    at_str name, rest;
    st = ciev_split(line, len, base_off, &name, &rest, &out->name_quoted, err_off);
    if (st != AT_OK)
        return st;
    size_t name0 = (size_t)(name.ptr - line);
    if (!at_name_is(&name, "is_cert"))
        return syntax(err_off, base_off, name0);
    size_t n = rtrim(line, 0, len);
    if (!rest.ptr)
        return syntax(err_off, base_off, n);

    size_t i = (size_t)(rest.ptr - line);
    uint64_t v;
    if (!parse_dec(line, &i, n, UINT_MAX, &v))
        return syntax(err_off, base_off, i);
    out->srv_profile = (unsigned)v;
    i = skip_blanks(line, i, n);
    if (i >= n || line[i] != ',')
        return syntax(err_off, base_off, i);
    size_t m0 = i + 1; /* start of the issuer */

    /* Six fields follow the id, so at least five commas. */
    size_t commas = 0;
    for (size_t k = m0; k < n && commas < 5; k++)
        commas += line[k] == ',';
    if (commas < 5)
        return syntax(err_off, base_off, n); /* fields missing */
    size_t c3 = rfind_char(line, m0, n, ',');
    size_t c2 = rfind_char(line, m0, c3, ',');
    size_t c1 = rfind_char(line, m0, c2, ',');
    out->thumbprint = trimmed(line, base_off, c3 + 1, n);
    out->thumb_alg = trimmed(line, base_off, c2 + 1, c3);
    out->sig_alg = trimmed(line, base_off, c1 + 1, c2);

    /* Middle [m0, c1): walk consecutive comma pairs. */
    int best_rank = -1;
    size_t best_a = 0, best_b = 0;
    size_t a = find_char(line, m0, c1, ',');
    while (a < c1) {
        size_t b = find_char(line, a + 1, c1, ',');
        if (b >= c1)
            break;
        at_str tok = trimmed(line, base_off, a + 1, b);
        size_t t0 = (size_t)(tok.ptr - line), t = t0;
        while (t < t0 + tok.len && is_hex(line[t]))
            t++;
        if (tok.len > 0 && t == t0 + tok.len) {
            size_t subj = skip_blanks(line, b + 1, c1);
            int rank = (subj < c1 && line[subj] == '/') ? 1 : 0;
            if (rank > best_rank) {
                best_rank = rank;
                best_a = a;
                best_b = b;
            }
        }
        a = b;
    }
    if (best_rank < 0)
        return syntax(err_off, base_off, m0); /* no hex serial between the DNs */
    out->issuer = trimmed(line, base_off, m0, best_a);
    out->serial = trimmed(line, base_off, best_a + 1, best_b);
    out->subject = trimmed(line, base_off, best_b + 1, c1);
    return AT_OK;
}

/* ------------------------------------------------------------------ */
/* ^SIS                                                                */
/* ------------------------------------------------------------------ */

/* A comma (blanks around it allowed); false with *bad set otherwise. */
static bool expect_comma(const char *s, size_t *i, size_t end, size_t *bad)
{
    size_t j = skip_blanks(s, *i, end);
    if (j >= end || s[j] != ',') {
        *bad = j;
        return false;
    }
    *i = skip_blanks(s, j + 1, end);
    return true;
}

static bool parse_num_field(const char *s, size_t *i, size_t end, uint64_t max, uint64_t *v,
                            size_t *start)
{
    *start = *i;
    return parse_dec(s, i, end, max, v);
}

/*
 * ^SIS: <srvProfileId>,<urcCause>[,[<urcInfoId>][,"<urcInfoText>"]]
 * Modules put a blank after each comma; both forms are accepted. The info
 * text is free text that may hold commas and quotes, so it runs to the last
 * quote of the line. An unquoted text (not in the manuals) is taken as is.
 */
at_status at_parse_sis(const char *line, size_t len, uint64_t base_off,
                       at_sis *out, uint64_t *err_off)
{
    at_status st = check_line(line, len, out);
    if (st != AT_OK)
        return st;
    memset(out, 0, sizeof *out);
    out->info_text = no_str;

    const char *s = line;
    size_t n = rtrim(s, 0, len), i, bad = 0, f0 = 0;
    uint64_t v;
    if (!expect_lit(s, 0, n, "^SIS:", true, &bad))
        return syntax(err_off, base_off, bad);
    i = skip_blanks(s, 5, n);
    if (!parse_num_field(s, &i, n, UINT_MAX, &v, &f0))
        return syntax(err_off, base_off, i);
    out->srv_profile = (unsigned)v;
    out->srv_profile_span = mkspan(base_off, f0, i - f0);
    if (!expect_comma(s, &i, n, &bad))
        return syntax(err_off, base_off, bad);
    if (!parse_num_field(s, &i, n, UINT_MAX, &v, &f0))
        return syntax(err_off, base_off, i);
    out->urc_cause = (unsigned)v;
    out->urc_cause_span = mkspan(base_off, f0, i - f0);

    i = skip_blanks(s, i, n);
    if (i == n)
        return AT_OK;
    if (!expect_comma(s, &i, n, &bad))
        return syntax(err_off, base_off, bad);
    if (i < n && is_digit(s[i])) {
        if (!parse_num_field(s, &i, n, UINT_MAX, &v, &f0))
            return syntax(err_off, base_off, i);
        out->has_info_id = true;
        out->info_id = (unsigned)v;
        out->info_id_span = mkspan(base_off, f0, i - f0);
        i = skip_blanks(s, i, n);
    }
    if (i == n)
        return AT_OK; /* "^SIS: 1,0," or "^SIS: 1,0,66" */
    if (!expect_comma(s, &i, n, &bad))
        return syntax(err_off, base_off, bad);
    if (i == n)
        return AT_OK; /* trailing comma, no text */
    if (s[i] == '"') {
        size_t last = rfind_char(s, i + 1, n, '"');
        if (last == SIZE_MAX)
            return syntax(err_off, base_off, i); /* unterminated text */
        if (last + 1 != n)
            return syntax(err_off, base_off, last + 1);
        out->info_text = mkstr(s, base_off, i + 1, last - i - 1);
    } else {
        out->info_text = mkstr(s, base_off, i, n - i);
    }
    out->has_info_text = true;
    return AT_OK;
}

const char *at_sis_info_text(unsigned info_id)
{
    /* PROTOCOL.md section 8, from the modules' AT command manuals. */
    static const char *const tls[] = {
        "unknown internal TLS error",               /* 62 */
        "wrong format of certificate data",         /* 63 */
        "certificate validity period is in future", /* 64 */
        "certificate validity period expired",      /* 65 */
        "peer certificate is not confirmed",        /* 66 */
        "wrong signature key format",               /* 67 */
        "unsupported signature key type",           /* 68 */
        "wrong protocol data format",               /* 69 */
        "wrong protocol data format",               /* 70 */
        "no memory available for TLS",              /* 71 */
        "buffer error in TLS",                      /* 72 */
        "wrong input data for RSA operation",       /* 73 */
        "TLS/SSL protocol error",                   /* 74 */
        "internal error in TLS",                    /* 75 */
        "certificate format error",                 /* 76 */
        "the certificate does not exist",           /* 77 */
        "unknown TLS error code",                   /* 78 */
    };
    if (at_sis_info_is_tls(info_id))
        return tls[info_id - 62];
    switch (info_id) {
    case 14: return "connection aborted";
    case 2200:
    case 2201: return "HTTP redirect/status information";
    default: return NULL;
    }
}

bool at_sis_info_is_tls(unsigned info_id)
{
    return info_id >= 62 && info_id <= 78;
}

/* ------------------------------------------------------------------ */
/* ^SISR / ^SISW                                                       */
/* ------------------------------------------------------------------ */

/*
 * "^SISR: <id>,<cnfReadLength>[,<remainUdpPacketLength>[,<optServParm>]]",
 * "^SISW: <id>,<cnfWriteLength>[,<unackData>]", and the URCs
 * "^SISR: <id>,<urcCauseId>" / "^SISW: <id>,<urcCauseId>".
 * ^SISR's cnfReadLength can be negative (-1: HTTP cannot tell the size,
 * -2: end of data): then count is 0 - no payload follows - and
 * count_negative holds the value. The UDP remainder of ^SISR is returned in
 * unack; a further ^SISR parameter (the remote address) is accepted and
 * skipped.
 */
at_status at_parse_sis_rw(const char *line, size_t len, uint64_t base_off,
                          at_sis_rw *out, uint64_t *err_off)
{
    at_status st = check_line(line, len, out);
    if (st != AT_OK)
        return st;
    memset(out, 0, sizeof *out);

    const char *s = line;
    size_t n = rtrim(s, 0, len), i, bad = 0, f0 = 0;
    uint64_t v;
    if (!expect_lit(s, 0, n, "^SIS", true, &bad))
        return syntax(err_off, base_off, bad);
    if (n < 5 || (to_upper(s[4]) != 'R' && to_upper(s[4]) != 'W'))
        return syntax(err_off, base_off, 4);
    bool is_read = to_upper(s[4]) == 'R';
    if (n < 6 || s[5] != ':')
        return syntax(err_off, base_off, 5);
    i = skip_blanks(s, 6, n);
    if (!parse_num_field(s, &i, n, UINT_MAX, &v, &f0))
        return syntax(err_off, base_off, i);
    out->srv_profile = (unsigned)v;
    if (!expect_comma(s, &i, n, &bad))
        return syntax(err_off, base_off, bad);
    f0 = i;
    bool neg = i < n && s[i] == '-';
    if (neg)
        i++;
    if (!parse_dec(s, &i, n, neg ? (uint64_t)INT_MAX : (uint64_t)ULONG_MAX, &v))
        return syntax(err_off, base_off, i);
    if (neg)
        out->count_negative = -(int)v;
    else
        out->count = (unsigned long)v;
    out->count_span = mkspan(base_off, f0, i - f0);

    i = skip_blanks(s, i, n);
    if (i == n)
        return AT_OK;
    if (!expect_comma(s, &i, n, &bad))
        return syntax(err_off, base_off, bad);
    if (!parse_dec(s, &i, n, ULONG_MAX, &v))
        return syntax(err_off, base_off, i);
    out->has_unack = true;
    out->unack = (unsigned long)v;
    i = skip_blanks(s, i, n);
    if (i == n || (is_read && s[i] == ','))
        return AT_OK;
    return syntax(err_off, base_off, i);
}

/* ------------------------------------------------------------------ */
/* Line prefix                                                         */
/* ------------------------------------------------------------------ */

at_str at_line_prefix(const char *line, size_t len, uint64_t base_off)
{
    if (!line || too_long(len) || len < 3 || (line[0] != '+' && line[0] != '^'))
        return no_str;
    size_t i = 1;
    /* ':' is a V.250 name character but here it ends the name. */
    while (i < len && line[i] != ':' && is_name_char(line[i]))
        i++;
    if (i == 1 || i >= len || line[i] != ':')
        return no_str;
    return mkstr(line, base_off, 0, i);
}

const char *at_cmd_type_name(at_cmd_type t)
{
    switch (t) {
    case AT_CMDT_EXEC: return "exec";
    case AT_CMDT_SET: return "set";
    case AT_CMDT_READ: return "read";
    case AT_CMDT_TEST: return "test";
    case AT_CMDT_REPEAT: return "repeat";
    }
    return "unknown";
}

const char *at_sbnr_kind_name(at_sbnr_kind k)
{
    switch (k) {
    case AT_SBNR_ENTRY: return "certificate";
    case AT_SBNR_EMPTY: return "empty";
    case AT_SBNR_CORRUPTED: return "corrupted";
    }
    return "unknown";
}
