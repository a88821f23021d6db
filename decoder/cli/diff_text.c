/*
 * diff_text.c - one difference of two exchanges (attrace/compare.h's
 * at_diff) as a line of text: `attrace diff` (sides "A" and "B") and
 * `attrace replay` (sides "recorded" and "replayed") print them the same.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */

#include "cli.h"

#include <string.h>

static void put_text(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    if (s)
        cli_put_escaped(f, s, n);
    fputc('"', f);
}

static void put_off(FILE *f, const at_diff_side *s)
{
    fprintf(f, "%s+%llu", cli_dir_short(s->dir), (unsigned long long)s->off);
}

const char *cli_param_label(uint16_t id)
{
    const char *n = at_param_name(id);
    return n ? n : "unknown";
}

static void frame_value(FILE *f, const at_diff *d, const at_diff_side *s,
                        const at_xrec *x)
{
    if (!s->present) {
        fputs("none", f);
        return;
    }
    switch (d->field) {
    case AT_FF_BYTE_ORDER:
        fputs(s->num ? "big-endian" : "little-endian", f);
        break;
    case AT_FF_CMD_ID: {
        const char *n = at_cmd_name((uint16_t)s->num);
        fprintf(f, "%llu (%s)", (unsigned long long)s->num, n ? n : "unknown");
        break;
    }
    case AT_FF_UNIT:
        fprintf(f, "%s, %u bytes", cli_param_label((uint16_t)s->num), (unsigned)s->len);
        break;
    case AT_FF_PARAM_ID:
        fprintf(f, "%llu (%s)", (unsigned long long)s->num, cli_param_label((uint16_t)s->num));
        break;
    case AT_FF_TRAILING:
        fprintf(f, "%llu", (unsigned long long)s->num);
        break;
    case AT_FF_SIGNATURE_CHECK:
        fputs(s->num ? "matches" : "does not match", f);
        break;
    case AT_FF_VALUE:
        if (s->text && d->param_id == AT_PARAM_SIGNATURE) {
            /* 172 characters of base64 say nothing to a reader; their
             * length and the signature check do. */
            fprintf(f, "%zu characters", s->text_len);
        } else if (s->text) {
            put_text(f, s->text, s->text_len);
        } else if (d->param_id == AT_PARAM_INDEX) {
            const at_xframe *xf = at_xrec_frame(x, d->dir, d->frame - 1);
            if (xf && xf->frame.has_index)
                fprintf(f, "%u", (unsigned)xf->frame.index);
            else
                fprintf(f, "%u bytes", (unsigned)s->len);
        } else if (d->secret) {
            fprintf(f, "%u bytes", (unsigned)s->len);
        } else if (s->num > 255) {
            fprintf(f, "ends (%u bytes)", (unsigned)s->len);
        } else {
            fprintf(f, "0x%02X of %u bytes", (unsigned)s->num, (unsigned)s->len);
        }
        break;
    default:
        fprintf(f, "%llu", (unsigned long long)s->num);
        break;
    }
    fputs(" (", f);
    put_off(f, s);
    fputc(')', f);
}

static void frame_where(FILE *f, const at_diff *d)
{
    fprintf(f, "%sframe %u", d->dir == AT_DIR_ME_TO_TE ? "module " : "", d->frame);
    switch (d->field) {
    case AT_FF_UNIT:
        fprintf(f, " differs at unit %u", d->unit);
        return;
    case AT_FF_PARAM_LEN:
    case AT_FF_PARAM_ID:
        fprintf(f, " differs at unit %u (%s) %s", d->unit, cli_param_label(d->param_id),
                at_frame_field_label(d->field));
        return;
    case AT_FF_VALUE:
        fprintf(f, " differs at unit %u (%s) value", d->unit, cli_param_label(d->param_id));
        if (d->param_id != AT_PARAM_INDEX && d->param_id != AT_PARAM_IMEI)
            fprintf(f, " from byte %u", (unsigned)d->byte_index);
        return;
    default:
        fprintf(f, " differs at %s", at_frame_field_label(d->field));
    }
}

static void result_value(FILE *f, const at_diff *d, const at_diff_side *s)
{
    if (!s->present) {
        fputs("none", f);
    } else if (d->kind == AT_DIFF_SECURE_RESULT) {
        fprintf(f, "%s", at_secure_result_name((at_secure_result)s->num));
        if (s->text) {
            fputs(" (", f);
            cli_put_escaped(f, s->text, s->text_len);
            fputc(')', f);
        }
    } else if (s->text) {
        cli_put_escaped(f, s->text, s->text_len);
    } else {
        fprintf(f, "%s", at_result_name((at_result_kind)s->num));
    }
}

static void line_row(FILE *f, unsigned indent, const char *side, const at_xline *l)
{
    fprintf(f, "%*s%s ", (int)indent, "", side);
    if (!l) {
        fputs("(none)\n", f);
        return;
    }
    fprintf(f, "%s+%llu %s: ", cli_dir_short(l->dir), (unsigned long long)l->span.off,
            at_xline_kind_name(l->kind));
    cli_put_escaped(f, l->text, l->len);
    fputc('\n', f);
}

static void finding_row(FILE *f, const char *side, const at_xfinding *x)
{
    fprintf(f, "finding only in %s: %s %s at %s+%llu: ", side,
            at_severity_name(x->severity), x->rule, cli_dir_short(x->dir),
            (unsigned long long)x->off);
    cli_put_escaped(f, x->what, strnlen(x->what, sizeof x->what));
}

void cli_diff_describe(FILE *f, const at_diff *d, unsigned indent,
                       const char *const names[2])
{
    switch (d->kind) {
    case AT_DIFF_COMMAND:
        fprintf(f, "command differs: %s ", names[0]);
        put_text(f, d->sa.text, d->sa.text_len);
        fprintf(f, " vs %s ", names[1]);
        put_text(f, d->sb.text, d->sb.text_len);
        break;
    case AT_DIFF_FRAME:
        if (d->field == AT_FF_COUNT) {
            fprintf(f, "%sframes: %s %llu vs %s %llu",
                    d->dir == AT_DIR_ME_TO_TE ? "module " : "", names[0],
                    (unsigned long long)d->sa.num, names[1], (unsigned long long)d->sb.num);
            break;
        }
        if (d->field == AT_FF_PROBLEM) {
            int s = d->sa.present ? 0 : 1;
            const at_diff_side *ss = s ? &d->sb : &d->sa;
            fprintf(f, "frame %u problem only in %s: %s at ", d->frame, names[s],
                    at_frame_problem_name((at_frame_problem_code)ss->num));
            put_off(f, ss);
            fprintf(f, " (detail %u): %s", (unsigned)ss->len,
                    at_frame_problem_text((at_frame_problem_code)ss->num));
            break;
        }
        frame_where(f, d);
        fprintf(f, ": %s ", names[0]);
        frame_value(f, d, &d->sa, d->a);
        fprintf(f, " vs %s ", names[1]);
        frame_value(f, d, &d->sb, d->b);
        if (d->secret)
            fputs("; key bytes not shown", f);
        break;
    case AT_DIFF_SECURE_RESULT:
    case AT_DIFF_FINAL:
        fprintf(f, "%s: %s ", d->kind == AT_DIFF_FINAL ? "final result" : "secure result", names[0]);
        result_value(f, d, &d->sa);
        fprintf(f, " vs %s ", names[1]);
        result_value(f, d, &d->sb);
        break;
    case AT_DIFF_END:
        fprintf(f, "end: %s %s vs %s %s", names[0], at_end_reason_name((at_end_reason)d->sa.num),
                names[1], at_end_reason_name((at_end_reason)d->sb.num));
        break;
    case AT_DIFF_LINE:
        fprintf(f, "%s line %s%s:\n", d->dir == AT_DIR_ME_TO_TE ? "module" : "host",
                d->la && d->lb ? "differs" : "only in ",
                d->la && d->lb ? "" : names[d->la ? 0 : 1]);
        line_row(f, indent + 2, names[0], d->la);
        line_row(f, indent + 2, names[1], d->lb);
        return;
    case AT_DIFF_LINES_BEYOND:
        fprintf(f, "lines after the first %u differ: %s %llu more vs %s %llu more",
                AT_XREC_MAX_LINES, names[0], (unsigned long long)d->sa.num, names[1],
                (unsigned long long)d->sb.num);
        break;
    case AT_DIFF_PAYLOAD:
        fprintf(f, "%s data differs: %s %llu bytes vs %s %llu bytes",
                d->dir == AT_DIR_ME_TO_TE ? "module" : "host", names[0],
                (unsigned long long)d->sa.num, names[1], (unsigned long long)d->sb.num);
        break;
    case AT_DIFF_FINDING:
        finding_row(f, names[d->fa ? 0 : 1], d->fa ? d->fa : d->fb);
        break;
    case AT_DIFF_ONLY_A:
    case AT_DIFF_ONLY_B:
        break;
    }
    fputc('\n', f);
}

