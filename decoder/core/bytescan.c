/*
 * Byte searches of the hot paths: see bytescan.h. The vector forms decide
 * 16 positions a step with the same tests the portable forms make byte by
 * byte. Where those tests would look past the end of the buffer, the line
 * search hands the last bytes to the portable form; the key search takes
 * the 16 that end the buffer as one block, shifted in the register, and
 * knows which of their next bytes are not at hand.
 */
#include "bytescan.h"

#include "attrace/secret.h"

#include <stdbool.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------ */
/* Line ends                                                          */
/* ------------------------------------------------------------------ */

/* What a byte is to a line: text (0), a control byte (1: below 0x20 but
 * tab, and DEL) or its end (2: CR, LF). */
static const uint8_t line_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1, 1, 2, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    [0x7f] = 1,
};

/* The portable search from @p j on, with the first control byte so far
 * at @p c (SIZE_MAX: none yet). */
static size_t line_stop_from(const uint8_t *p, size_t j, size_t n, size_t c,
                             size_t *ctrl)
{
    for (; j < n; j++) {
        uint8_t k = line_class[p[j]];
        if (!k)
            continue;
        if (k == 2)
            break;
        if (c == SIZE_MAX)
            c = j;
    }
    *ctrl = c < j ? c : j;
    return j;
}

size_t at_bytescan_line_stop_portable(const uint8_t *p, size_t n, size_t *ctrl)
{
    return line_stop_from(p, 0, n, SIZE_MAX, ctrl);
}

#ifdef __SSE2__
/* The positions of p[0..16) kept by @p keep: the first control byte
 * before any CR/LF goes to *c if none is there yet; returns the position
 * of the first CR/LF, or 16. */
static inline unsigned line_block(const uint8_t *p, unsigned keep, size_t base, size_t *c)
{
    const __m128i max_low = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* Text is the common case: one test for "no byte below 0x20 and
     * no DEL" (CR and LF are below 0x20 too). */
    __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, max_low), v);
    unsigned any = keep & (unsigned)_mm_movemask_epi8(_mm_or_si128(low, _mm_cmpeq_epi8(v, del)));
    if (!any)
        return 16;
    unsigned stop = keep & (unsigned)_mm_movemask_epi8(_mm_or_si128(
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
    unsigned ctl = any & ~stop &
                   ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
    if (stop)
        ctl &= (1u << __builtin_ctz(stop)) - 1;
    if (*c == SIZE_MAX && ctl)
        *c = base + (unsigned)__builtin_ctz(ctl);
    return stop ? (unsigned)__builtin_ctz(stop) : 16;
}
#endif

size_t at_bytescan_line_stop(const uint8_t *p, size_t n, size_t *ctrl)
{
#ifdef __SSE2__
    size_t j = 0, c = SIZE_MAX;
    for (; j + 16 <= n; j += 16) {
        unsigned k = line_block(p + j, 0xffffu, j, &c);
        if (k < 16) {
            j += k;
            *ctrl = c < j ? c : j;
            return j;
        }
    }
    if (j < n && n >= 16) {
        /* The last bytes in the 16 that end the buffer, those before j
         * masked off: one line per record mostly ends there. */
        size_t base = n - 16;
        unsigned k = line_block(p + base, 0xffffu << (j - base), base, &c);
        j = k < 16 ? base + k : n;
        *ctrl = c < j ? c : j;
        return j;
    }
    return line_stop_from(p, j, n, c, ctrl);
#else
    return at_bytescan_line_stop_portable(p, n, ctrl);
#endif
}

/* ------------------------------------------------------------------ */
/* Key starts                                                         */
/* ------------------------------------------------------------------ */

/* Bytes that start something: 0x30 (SEQUENCE), 0x02 (INTEGER), '-' (PEM). */
static const bool is_trigger[256] = {[0x30] = true, [0x02] = true, ['-'] = true};

/* The first trigger in p[i..n), or n: eight bytes a step while there is
 * none. */
static size_t next_trigger(const uint8_t *p, size_t i, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (i + 8 <= n) {
        uint64_t v;
        memcpy(&v, p + i, sizeof v);
        uint64_t a = v ^ (ones * 0x30), b = v ^ (ones * 0x02), c = v ^ (ones * '-');
        /* Nonzero exactly when some byte of a, b or c is zero. */
        if ((((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c)) & highs)
            break;
        i += 8;
    }
    while (i < n && !is_trigger[p[i]])
        i++;
    return i;
}

/* Whether what the trigger at p[i] starts survives the bytes after it
 * before n. */
static bool survives(const uint8_t *p, size_t i, size_t n)
{
    uint8_t b = p[i];
    if (i + 1 >= n)
        return true;
    uint8_t next = p[i + 1];
    if (b == '-')
        return next == '-';
    if (next == 0x81 || next == 0x82)
        return true;
    if (b == 0x02)
        return next >= AT_SECRET_MIN_INT && next < 0x80;
    if (next < AT_SECRET_MIN_CONTENT || next >= 0x80)
        return false;
    /* A SEQUENCE's first element: a version INTEGER or a SEQUENCE. */
    return i + 2 >= n || p[i + 2] == 0x02 || p[i + 2] == 0x30;
}

size_t at_bytescan_key_start_portable(const uint8_t *p, size_t from, size_t lim, size_t n)
{
    size_t i = from;
    for (;;) {
        i = next_trigger(p, i, lim);
        if (i >= lim || survives(p, i, n))
            return i;
        i++;
    }
}

#ifdef __SSE2__
/* The trigger bytes of a block, one bit each. */
static inline unsigned trigger_bits(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x30)),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8(0x02))),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
}

/* The positions of block @p v where a trigger survives, as bits: @p w and
 * @p x hold each position's next byte and the one after it. @p end1 marks
 * the positions whose next byte lies past the end (any trigger survives
 * there), @p end2 those whose next but one does (a SEQUENCE with a
 * content length survives there); w and x hold zero at such positions. */
static inline unsigned live_triggers(__m128i v, __m128i w, __m128i x, unsigned end1,
                                     unsigned end2)
{
    /* The signed compares below take [k, 0x80) as "greater than k - 1". */
    _Static_assert(AT_SECRET_MIN_INT > 0 && AT_SECRET_MIN_INT < 0x80 &&
                       AT_SECRET_MIN_CONTENT > 0 && AT_SECRET_MIN_CONTENT < 0x80,
                   "length bounds must be below 0x80");
    const __m128i seq = _mm_set1_epi8(0x30), integer = _mm_set1_epi8(0x02);
    const __m128i dash = _mm_set1_epi8('-');
    __m128i is_seq = _mm_cmpeq_epi8(v, seq), is_int = _mm_cmpeq_epi8(v, integer);
    __m128i is_dash = _mm_cmpeq_epi8(v, dash);
    __m128i long_len = _mm_or_si128(_mm_cmpeq_epi8(w, _mm_set1_epi8((char)0x81)),
                                    _mm_cmpeq_epi8(w, _mm_set1_epi8((char)0x82)));
    __m128i first_elem = _mm_or_si128(_mm_cmpeq_epi8(x, integer), _mm_cmpeq_epi8(x, seq));
    __m128i content = _mm_cmpgt_epi8(w, _mm_set1_epi8(AT_SECRET_MIN_CONTENT - 1));
    __m128i seq_live =
        _mm_and_si128(is_seq, _mm_or_si128(long_len, _mm_and_si128(content, first_elem)));
    __m128i int_live = _mm_and_si128(
        is_int,
        _mm_or_si128(long_len, _mm_cmpgt_epi8(w, _mm_set1_epi8(AT_SECRET_MIN_INT - 1))));
    __m128i dash_live = _mm_and_si128(is_dash, _mm_cmpeq_epi8(w, dash));
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(seq_live, int_live), dash_live));
    if (end1 | end2) {
        m |= trigger_bits(v) & end1;
        m |= (unsigned)_mm_movemask_epi8(_mm_and_si128(is_seq, content)) & end2;
    }
    return m;
}

/* The live triggers of p[0..16), whose next two bytes are at hand. */
static inline unsigned live_triggers_at(const uint8_t *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (!trigger_bits(v))
        return 0;
    return live_triggers(v,
                         _mm_loadu_si128((const __m128i *)(const void *)(p + 1)),
                         _mm_loadu_si128((const __m128i *)(const void *)(p + 2)), 0, 0);
}

/* The live triggers of the 16 positions that end p[0..n) (n >= 16). */
static inline unsigned live_triggers_last(const uint8_t *p, size_t n)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + n - 16));
    if (!trigger_bits(v))
        return 0;
    return live_triggers(v, _mm_srli_si128(v, 1), _mm_srli_si128(v, 2), 0x8000u, 0x4000u);
}

/* The first position in [i, lim) among @p live, the live triggers of the
 * 16 positions that end a buffer of n bytes (lane k is position
 * n - 16 + k), or lim. */
static inline size_t last_block(size_t i, size_t lim, size_t n, unsigned live)
{
    unsigned m = live & (0xffffu << (i + 16 - n));
    if (lim + 16 - n < 16)
        m &= (1u << (lim + 16 - n)) - 1;
    return m ? n - 16 + (unsigned)__builtin_ctz(m) : lim;
}

/* The search over the last positions, i >= n - 17 and i < lim, where the
 * buffer is short or one position does not fit the last block: kept out
 * of the caller, whose common path then needs no stack. */
__attribute__((noinline)) static size_t key_start_last(const uint8_t *p, size_t i,
                                                       size_t lim, size_t n)
{
    if (i + 16 < n) {
        if (is_trigger[p[i]] && survives(p, i, n))
            return i;
        if (++i >= lim)
            return lim;
    }
    if (n >= 16)
        return last_block(i, lim, n, live_triggers_last(p, n));
    /* Shorter than a block: its bytes at the end of a zeroed one (0 is
     * no trigger). */
    uint8_t buf[16] = {0};
    memcpy(buf + 16 - n, p, n);
    return last_block(i, lim, n, live_triggers_last(buf, 16));
}
#endif

size_t at_bytescan_key_start(const uint8_t *p, size_t from, size_t lim, size_t n)
{
#ifdef __SSE2__
    size_t i = from;
    /* The blocks before lim with p[i..i+18) at hand; the bound is worked
     * out once and the mask only where a trigger is found, as most blocks
     * hold none. */
    size_t stop = n >= 18 ? n - 17 : 0;
    if (stop > lim)
        stop = lim;
    for (; i < stop; i += 16) {
        unsigned m = live_triggers_at(p + i);
        if (!m)
            continue;
        if (lim - i < 16)
            m &= (1u << (lim - i)) - 1;
        if (m)
            return i + (unsigned)__builtin_ctz(m);
    }
    if (i >= lim)
        return lim;
    /* The last positions (up to 17, since i >= n - 17): the last block
     * knows which of their next bytes are not at hand yet. */
    if (n < 18 || i + 16 < n)
        return key_start_last(p, i, lim, n);
    return last_block(i, lim, n, live_triggers_last(p, n));
#else
    return at_bytescan_key_start_portable(p, from, lim, n);
#endif
}

/* ------------------------------------------------------------------ */
/* Base64 text                                                        */
/* ------------------------------------------------------------------ */

/* The base64 alphabet, by table. */
static const bool base64_alphabet[256] = {
    ['+'] = true, ['/'] = true,
    ['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true,
    ['5'] = true, ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true,
    ['A'] = true, ['B'] = true, ['C'] = true, ['D'] = true, ['E'] = true,
    ['F'] = true, ['G'] = true, ['H'] = true, ['I'] = true, ['J'] = true,
    ['K'] = true, ['L'] = true, ['M'] = true, ['N'] = true, ['O'] = true,
    ['P'] = true, ['Q'] = true, ['R'] = true, ['S'] = true, ['T'] = true,
    ['U'] = true, ['V'] = true, ['W'] = true, ['X'] = true, ['Y'] = true,
    ['Z'] = true,
    ['a'] = true, ['b'] = true, ['c'] = true, ['d'] = true, ['e'] = true,
    ['f'] = true, ['g'] = true, ['h'] = true, ['i'] = true, ['j'] = true,
    ['k'] = true, ['l'] = true, ['m'] = true, ['n'] = true, ['o'] = true,
    ['p'] = true, ['q'] = true, ['r'] = true, ['s'] = true, ['t'] = true,
    ['u'] = true, ['v'] = true, ['w'] = true, ['x'] = true, ['y'] = true,
    ['z'] = true,
};

size_t at_bytescan_base64_run_portable(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && base64_alphabet[p[i]])
        i++;
    return i;
}

#ifdef __SSE2__
/* The bytes of block @p v in [lo, lo + span], one bit each. */
static inline unsigned in_range(__m128i v, char lo, char span)
{
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(span)), d));
}
#endif

size_t at_bytescan_base64_run(const uint8_t *p, size_t n)
{
#ifdef __SSE2__
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        /* Letters: setting bit 5 maps A-Z onto a-z and nothing else
         * into it; '/' (0x2F) sits right before the digits. */
        unsigned ok = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z' - 'a') |
                      in_range(v, '/', '9' - '/') |
                      (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
        if (ok != 0xffffu)
            return i + (unsigned)__builtin_ctz(~ok);
    }
    return i + at_bytescan_base64_run_portable(p + i, n - i);
#else
    return at_bytescan_base64_run_portable(p, n);
#endif
}
