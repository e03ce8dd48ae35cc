/* countdown_verify.c — the Countdown verifier (SPEC §5).
 *
 * Judges a whole model output (prompt + response) in one of two modes:
 *   - SBT_VERIFY_REFERENCE: the seed's parse_input + validate_steps, bug for bug (SPEC §5.1),
 *     which produced every accuracy in the paper;
 *   - SBT_VERIFY_STRICT: a real solution (SPEC §5.3).
 *
 * The text is raw bytes with an explicit length: it may hold NULs and invalid UTF-8, and
 * nothing past len is ever read. Where the seed's Python works on decoded str, this file
 * works on UTF-8 bytes; the two agree because every delimiter the seed looks for is ASCII
 * and an ASCII byte never occurs inside a multi-byte UTF-8 character.
 *
 * Deliberate deviations from the Python (each also noted where it is implemented):
 *   - `\d` matches ASCII digits only; Python's str regex (and int()) would also accept
 *     other Unicode decimal digits such as "٤٥". Model outputs never contain them.
 *   - Integers are 128-bit. Where Python's exact big integers would decide a case we
 *     cannot represent, the verdict is SBT_FAIL_NUMBER_TOO_LARGE; where Python's order of
 *     checks decides it anyway (an operand or written result too large to ever match an
 *     in-range value), we give Python's verdict.
 *   - The prompt's numbers are Python's eval() of a tuple; we accept only what the seed's
 *     prompt can hold: optionally signed decimal integers separated by commas. Other
 *     Python expressions ("--5", "1_000", "(1)", comments) are SBT_FAIL_INVALID_FORMAT,
 *     as are the inputs on which the seed crashes (no numbers, no target, "5" alone).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfbt/countdown.h"
#include "core/error.h"

/* Python ints are unbounded; 128 bits covers any Countdown value by far. */
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define LIT_LEN(s) (sizeof(s) - 1)
#define NOT_FOUND SIZE_MAX

static const char NUMBERS_TAG[] = "numbers [";
static const char TARGET_TAG[] = "target ";
static const char RESPONSE_TAG[] = "###Response:\n";
static const char BACKTRACK[] = "<backtrack>";
static const char GOAL[] = "Goal Reached!";

/* The smallest out->size we accept: every field up to and including output_len. */
#define VERDICT_MIN_SIZE (offsetof(sbt_countdown_verdict, output_len) + sizeof(size_t))

typedef struct span {
    size_t off, len;
} span;

/* ------------------------------------------------------------------------------------ */
/* Byte-level helpers                                                                   */

/* Offset of the first `needle` at or after `from`, or NOT_FOUND (text may hold NULs). */
static size_t find(const char *t, size_t len, size_t from, const char *needle, size_t n)
{
    while (from < len && len - from >= n) {
        const char *p = memchr(t + from, needle[0], len - from - n + 1);
        if (!p)
            return NOT_FOUND;
        from = (size_t)(p - t);
        if (memcmp(p, needle, n) == 0)
            return from;
        from++;
    }
    return NOT_FOUND;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Multi-byte UTF-8 encodings of the code points for which Python's str.isspace() is true
 * (the same set `\s` matches in a str pattern): U+0085, U+00A0, U+1680, U+2000..U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000. UTF-8 has one encoding per code point, so
 * comparing bytes at a character boundary is the same as decoding; invalid UTF-8 never
 * matches, as a decoder would turn it into U+FFFD, which is not whitespace. */
static const char UNICODE_SPACES[][4] = {
    "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82",
    "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88",
    "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f",
    "\xe3\x80\x80"};
#define N_UNICODE_SPACES (sizeof UNICODE_SPACES / sizeof UNICODE_SPACES[0])

static int is_ascii_space(char c)
{
    return (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f') || c == ' ';
}

/* Byte length of the multi-byte whitespace character whose encoding starts at p and ends
 * before p + room, or 0. */
static size_t unicode_space(const char *p, size_t room)
{
    for (size_t k = 0; k < N_UNICODE_SPACES; k++) {
        size_t n = strlen(UNICODE_SPACES[k]);
        if (room >= n && memcmp(p, UNICODE_SPACES[k], n) == 0)
            return n;
    }
    return 0;
}

/* Byte length of the whitespace character starting at t[i] (i < end), or 0. */
static size_t space_at(const char *t, size_t i, size_t end)
{
    if (is_ascii_space(t[i]))
        return 1;
    return (unsigned char)t[i] >= 0xc2 ? unicode_space(t + i, end - i) : 0;
}

/* Byte length of the whitespace character ending just before t[end] (start < end), or 0.
 * A match begins with a UTF-8 lead byte, where a decoder always starts a character. */
static size_t space_before(const char *t, size_t start, size_t end)
{
    if (is_ascii_space(t[end - 1]))
        return 1;
    for (size_t n = 2; n <= 3 && n <= end - start; n++) {
        if (unicode_space(t + end - n, n) == n)
            return n;
    }
    return 0;
}

/* Python's str.strip() on t[s]. */
static span py_strip(const char *t, span s)
{
    size_t b = s.off, e = s.off + s.len, n;
    while (b < e && (n = space_at(t, b, e)) > 0)
        b += n;
    while (e > b && (n = space_before(t, b, e)) > 0)
        e -= n;
    return (span){b, e - b};
}

/* ------------------------------------------------------------------------------------ */
/* Numbers                                                                              */

/* The value of an ASCII digit string into *out; returns 0 if it does not fit in 128 bits. */
static int parse_digits(const char *t, span s, i128 *out)
{
    i128 v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, t[s.off + i] - '0', &v))
            return 0;
    }
    *out = v;
    return 1;
}

/* A multiset of values (value -> count) in an open-addressing table that never fills:
 * its capacity is at least twice the number of values that can ever go in. Positive
 * prompt numbers beyond 128 bits are only counted (n_huge), as no in-range value equals
 * them; negative ones can never match an operand (operands are unsigned digit strings). */
typedef struct slot {
    i128 value;
    size_t count;
    int used;
} slot;

typedef struct multiset {
    slot *slots;
    size_t mask;
    size_t n_huge;
} multiset;

static size_t hash_value(i128 v)
{
    u128 u = (u128)v;
    uint64_t x = (uint64_t)u ^ ((uint64_t)(u >> 64) * 0x9e3779b97f4a7c15u);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return (size_t)x;
}

static slot *ms_slot(const multiset *ms, i128 v)
{
    size_t i = hash_value(v) & ms->mask;
    while (ms->slots[i].used && ms->slots[i].value != v)
        i = (i + 1) & ms->mask;
    return &ms->slots[i];
}

static size_t ms_count(const multiset *ms, i128 v)
{
    const slot *s = ms_slot(ms, v);
    return s->used ? s->count : 0;
}

static void ms_add(multiset *ms, i128 v)
{
    slot *s = ms_slot(ms, v);
    s->used = 1;
    s->value = v;
    s->count++;
}

/* Room for `n` insertions; 0 on allocation failure. */
static int ms_init(multiset *ms, size_t n)
{
    size_t cap = 16;
    while (cap / 2 <= n) {
        if (cap > SIZE_MAX / 2 / sizeof(slot))
            return 0;
        cap *= 2;
    }
    ms->slots = calloc(cap, sizeof(slot));
    ms->mask = cap - 1;
    ms->n_huge = 0;
    return ms->slots != NULL;
}

/* Skips the whitespace Python's tokenizer allows between tokens of one line. */
static void skip_eval_spaces(const char *t, size_t *i, size_t end)
{
    while (*i < end && (t[*i] == ' ' || t[*i] == '\t' || t[*i] == '\f'))
        (*i)++;
}

/* One item of the numbers tuple at t[*i]: an optional sign, then digits. Python 3 rejects
 * decimal literals with leading zeros ("05"), but not all-zero ones ("00"). */
static int parse_item(const char *t, size_t *i, size_t end, int *negative, span *digits)
{
    *negative = *i < end && t[*i] == '-';
    if (*i < end && (t[*i] == '+' || t[*i] == '-')) {
        (*i)++;
        skip_eval_spaces(t, i, end);
    }
    size_t b = *i, first_nonzero = NOT_FOUND;
    for (; *i < end && is_digit(t[*i]); (*i)++) {
        if (t[*i] != '0' && first_nonzero == NOT_FOUND)
            first_nonzero = *i;
    }
    *digits = (span){b, *i - b};
    return digits->len > 0 && (first_nonzero == b || first_nonzero == NOT_FOUND);
}

/* Adds one prompt number to ms (when ms is not NULL). */
static void add_prompt_number(multiset *ms, const char *t, int negative, span digits)
{
    i128 v;
    if (!ms)
        return;
    if (!parse_digits(t, digits, &v))
        ms->n_huge += !negative;
    else
        ms_add(ms, negative ? -v : v);
}

/* eval() strips leading spaces and tabs, but after a form feed they are the indentation of
 * the first line, which the tokenizer refuses ("unexpected indent"). */
static int leading_spaces_ok(const char *t, size_t b, size_t e)
{
    size_t last_ff = NOT_FOUND;
    for (size_t k = b; k < e; k++) {
        if (t[k] == '\f')
            last_ff = k;
    }
    return last_ff == NOT_FOUND || last_ff == e - 1;
}

/* eval() of the text between "numbers [" and "]" as a tuple of ints: counts the numbers
 * into *n and adds them to ms (when not NULL). 0 where the seed's eval() would raise, or
 * would give no tuple: "5" without a comma is an int, and list(5) raises. */
static int parse_numbers(const char *t, span s, multiset *ms, size_t *n)
{
    size_t i = s.off, end = s.off + s.len, commas = 0;
    *n = 0;
    skip_eval_spaces(t, &i, end);
    if (!leading_spaces_ok(t, s.off, i))
        return 0;
    while (i < end) {
        int negative;
        span digits;
        if (!parse_item(t, &i, end, &negative, &digits))
            return 0;
        add_prompt_number(ms, t, negative, digits);
        (*n)++;
        skip_eval_spaces(t, &i, end);
        if (i == end)
            break;
        if (t[i] != ',')
            return 0;
        i++;
        commas++;
        skip_eval_spaces(t, &i, end); /* a trailing comma ends the loop here */
    }
    return *n > 0 && commas > 0;
}

/* ------------------------------------------------------------------------------------ */
/* Locating the problem and the response in the text (the seed's parse_input)           */

typedef struct input {
    int has_numbers, has_target, has_response;
    span numbers;    /* between "numbers [" and "]"                                     */
    span target;     /* the target's digits                                              */
    span response;   /* group(1) of the response regex, after str.strip()                */
    int backtracked; /* the response ended at <backtrack>, not at "Goal Reached!"        */
} input;

/* re.search(r'numbers \[(.*?)\]', s): the first "numbers [" with a ']' later on its line
 * ('.' does not match '\n'). */
static int find_numbers(const char *t, size_t len, span *out)
{
    size_t from = 0, p;
    while ((p = find(t, len, from, NUMBERS_TAG, LIT_LEN(NUMBERS_TAG))) != NOT_FOUND) {
        size_t b = p + LIT_LEN(NUMBERS_TAG), e = b;
        while (e < len && t[e] != ']' && t[e] != '\n')
            e++;
        if (e < len && t[e] == ']') {
            *out = (span){b, e - b};
            return 1;
        }
        /* Any later "numbers [" on this line ends at the same '\n' without a ']' too;
         * skipping them keeps hostile input linear. */
        from = e;
    }
    return 0;
}

/* re.search(r'target (\d+)', s). */
static int find_target(const char *t, size_t len, span *out)
{
    size_t from = 0, p;
    while ((p = find(t, len, from, TARGET_TAG, LIT_LEN(TARGET_TAG))) != NOT_FOUND) {
        size_t b = p + LIT_LEN(TARGET_TAG), e = b;
        while (e < len && is_digit(t[e]))
            e++;
        if (e > b) {
            *out = (span){b, e - b};
            return 1;
        }
        from = p + 1;
    }
    return 0;
}

/* The first "<backtrack>" or "Goal Reached!" at or after `from`, or NOT_FOUND. */
static size_t find_marker(const char *t, size_t len, size_t from, int *is_backtrack)
{
    size_t b = find(t, len, from, BACKTRACK, LIT_LEN(BACKTRACK));
    size_t g = find(t, len, from, GOAL, LIT_LEN(GOAL));
    *is_backtrack = b < g;
    return b < g ? b : g;
}

/* re.search(r'###Response:\n(.*?)(?:<backtrack>|Goal Reached!)', s, re.DOTALL), then
 * .strip(). Only the first "###Response:\n" matters: if no marker follows it, none
 * follows a later one either. */
static int find_response(const char *t, size_t len, span *out, int *backtracked)
{
    size_t p = find(t, len, 0, RESPONSE_TAG, LIT_LEN(RESPONSE_TAG));
    if (p == NOT_FOUND)
        return 0;
    size_t b = p + LIT_LEN(RESPONSE_TAG);
    size_t m = find_marker(t, len, b, backtracked);
    if (m == NOT_FOUND)
        return 0;
    *out = py_strip(t, (span){b, m - b});
    return 1;
}

static void locate_input(const char *t, size_t len, input *in)
{
    memset(in, 0, sizeof *in);
    in->has_numbers = find_numbers(t, len, &in->numbers);
    in->has_target = find_target(t, len, &in->target);
    in->has_response = find_response(t, len, &in->response, &in->backtracked);
}

/* The seed's model_output: the text up to and including the first marker anywhere in it
 * (txt.find), once the response regex has matched; the whole text otherwise. */
static size_t seed_output_len(const char *t, size_t len, int has_response)
{
    int is_backtrack;
    size_t m = has_response ? find_marker(t, len, 0, &is_backtrack) : NOT_FOUND;
    if (m == NOT_FOUND)
        return len;
    return m + (is_backtrack ? LIT_LEN(BACKTRACK) : LIT_LEN(GOAL));
}

/* ------------------------------------------------------------------------------------ */
/* Step lines                                                                           */

typedef struct step {
    span a, b, r; /* the digits of A op B = R */
    char op;
} step;

typedef struct cursor {
    const char *t;
    size_t i, end;
} cursor;

static int take_digits(cursor *c, span *out)
{
    size_t b = c->i;
    while (c->i < c->end && is_digit(c->t[c->i]))
        c->i++;
    *out = (span){b, c->i - b};
    return c->i > b;
}

static int take_byte(cursor *c, char want)
{
    if (c->i < c->end && c->t[c->i] == want) {
        c->i++;
        return 1;
    }
    return 0;
}

static int take_op(cursor *c, char *op)
{
    *op = c->i < c->end ? c->t[c->i] : '\0';
    return (*op == '+' || *op == '-' || *op == '*' || *op == '/') && take_byte(c, *op);
}

/* `\s*` */
static void skip_py_spaces(cursor *c)
{
    size_t n;
    while (c->i < c->end && (n = space_at(c->t, c->i, c->end)) > 0)
        c->i += n;
}

/* `[ \t]*` */
static void skip_blanks(cursor *c)
{
    while (take_byte(c, ' ') || take_byte(c, '\t'))
        continue;
}

/* A op B = R, with `skip` before each token after the first. */
static int match_tokens(cursor *c, void (*skip)(cursor *), step *st)
{
    if (!take_digits(c, &st->a))
        return 0;
    skip(c);
    if (!take_op(c, &st->op))
        return 0;
    skip(c);
    if (!take_digits(c, &st->b))
        return 0;
    skip(c);
    if (!take_byte(c, '='))
        return 0;
    skip(c);
    return take_digits(c, &st->r);
}

/* re.match(r'(\d+)\s*([+\-*\/])\s*(\d+)\s*=\s*(\d+)', line): anchored at the start only, so
 * whatever follows R is ignored ("45-39=6 foo", "45-39=6\r"). The greedy \d+ and \s*
 * never need to give characters back: a digit is neither whitespace nor an operator. */
static int match_reference(const char *t, span line, step *st)
{
    cursor c = {t, line.off, line.off + line.len};
    return match_tokens(&c, skip_py_spaces, st);
}

/* Strict: A op B = R with optional spaces or tabs between the tokens and at the end of the
 * line, where a '\r' of a CRLF line ending is also allowed; nothing else. A leading blank
 * is refused, as the reference regex refuses it. */
static int match_strict(const char *t, span line, step *st)
{
    cursor c = {t, line.off, line.off + line.len};
    if (!match_tokens(&c, skip_blanks, st))
        return 0;
    skip_blanks(&c);
    take_byte(&c, '\r');
    return c.i == c.end;
}

/* ------------------------------------------------------------------------------------ */
/* Judging the steps (the seed's validate_steps, and strict mode)                        */

typedef struct judge {
    const char *t;
    int strict;
    multiset ms; /* the seed's current_numbers */
    i128 last;   /* the last step's result */
} judge;

/* The seed: `num1 not in current_numbers or num2 not in current_numbers`. Strict mode
 * consumes each occurrence once, so "5+5" needs two 5s. */
static sbt_countdown_failure check_operands(const judge *j, int a_ok, i128 a, int b_ok, i128 b)
{
    size_t need_b = j->strict && a_ok && b_ok && a == b ? 2 : 1;
    if ((a_ok && ms_count(&j->ms, a) == 0) || (b_ok && ms_count(&j->ms, b) < need_b))
        return SBT_FAIL_UNKNOWN_NUMBER;
    if (!a_ok || !b_ok) /* beyond 128 bits: only an equally large prompt number can match */
        return j->ms.n_huge > 0 ? SBT_FAIL_NUMBER_TOO_LARGE : SBT_FAIL_UNKNOWN_NUMBER;
    return SBT_FAIL_NONE;
}

/* a op b for a, b >= 0; SBT_FAIL_NUMBER_TOO_LARGE when the value does not fit. */
static sbt_countdown_failure compute(int strict, char op, i128 a, i128 b, i128 *v)
{
    switch (op) {
    case '+':
        return __builtin_add_overflow(a, b, v) ? SBT_FAIL_NUMBER_TOO_LARGE : SBT_FAIL_NONE;
    case '*':
        return __builtin_mul_overflow(a, b, v) ? SBT_FAIL_NUMBER_TOO_LARGE : SBT_FAIL_NONE;
    case '-':
        *v = a - b; /* cannot overflow: both are >= 0 */
        return strict && *v < 0 ? SBT_FAIL_NEGATIVE_RESULT : SBT_FAIL_NONE;
    default: /* '/' */
        if (b == 0)
            return SBT_FAIL_DIVISION_BY_ZERO;
        if (strict && a % b != 0)
            return SBT_FAIL_INEXACT_DIVISION;
        *v = a / b; /* for a, b >= 0 C's truncation is Python's floor division */
        return SBT_FAIL_NONE;
    }
}

/* Replaces the operands by the result. The seed removes every copy of each operand value
 * (its duplicate bug, SPEC §5.1 item 5); strict mode removes one copy of each. */
static void apply_step(judge *j, i128 a, i128 b, i128 v)
{
    if (j->strict) {
        ms_slot(&j->ms, a)->count--;
        ms_slot(&j->ms, b)->count--;
    } else {
        ms_slot(&j->ms, a)->count = 0;
        ms_slot(&j->ms, b)->count = 0;
    }
    ms_add(&j->ms, v);
    j->last = v;
}

static sbt_countdown_failure check_step(judge *j, const step *st)
{
    i128 a = 0, b = 0, r = 0, v = 0;
    int a_ok = parse_digits(j->t, st->a, &a), b_ok = parse_digits(j->t, st->b, &b);
    int r_ok = parse_digits(j->t, st->r, &r);
    sbt_countdown_failure f = check_operands(j, a_ok, a, b_ok, b);
    if (f != SBT_FAIL_NONE)
        return f;
    f = compute(j->strict, st->op, a, b, &v);
    if (f == SBT_FAIL_NUMBER_TOO_LARGE && r_ok)
        return SBT_FAIL_INCORRECT_RESULT; /* beyond 128 bits, so unlike R: Python agrees */
    if (f != SBT_FAIL_NONE)
        return f;
    if (!r_ok || r != v) /* an R beyond 128 bits never equals an in-range value */
        return SBT_FAIL_INCORRECT_RESULT;
    apply_step(j, a, b, v);
    return SBT_FAIL_NONE;
}

static int32_t clamp_i32(size_t n) { return n > INT32_MAX ? INT32_MAX : (int32_t)n; }

static void fail_at(sbt_countdown_verdict *v, sbt_countdown_failure f, size_t index, span line)
{
    v->failure = f;
    v->failed_step = clamp_i32(index);
    v->step_offset = line.off;
    v->step_len = line.len;
}

/* After every step passed: the target, and in strict mode the marker and step count
 * (a backtracked response is no answer at all, so NO_GOAL comes first). */
static sbt_countdown_failure final_check(const judge *j, const input *in, size_t n_nums,
                                         size_t n_steps)
{
    i128 target;
    /* a target beyond 128 bits never equals a result */
    int reached = parse_digits(j->t, in->target, &target) && target == j->last;
    if (j->strict && in->backtracked)
        return SBT_FAIL_NO_GOAL;
    if (j->strict && n_steps != n_nums - 1)
        return SBT_FAIL_STEP_COUNT;
    return reached ? SBT_FAIL_NONE : SBT_FAIL_NOT_REACHED;
}

/* Records the verdict of final_check. NO_GOAL points at no step; NOT_REACHED at the last.
 * STEP_COUNT always means too few steps: a step consumes two numbers and adds one, so at
 * most n_nums-1 steps can pass; failed_step is the first missing step's index and the span
 * is the last step. */
static void record_final(sbt_countdown_verdict *v, sbt_countdown_failure f, size_t n_steps,
                         span last_line)
{
    v->failure = f;
    if (f == SBT_FAIL_NOT_REACHED)
        fail_at(v, f, n_steps - 1, last_line);
    else if (f == SBT_FAIL_STEP_COUNT)
        fail_at(v, f, n_steps, last_line);
}

/* The response's lines: response.strip().split('\n') never yields fewer than one. */
static size_t count_lines(const char *t, span s)
{
    size_t n = 1;
    for (size_t i = 0; i < s.len; i++)
        n += t[s.off + i] == '\n';
    return n;
}

/* The line starting at *pos inside s; moves *pos past it and its '\n'. */
static span next_line(const char *t, span s, size_t *pos)
{
    size_t end = s.off + s.len;
    const char *nl = memchr(t + *pos, '\n', end - *pos);
    span line = {*pos, nl ? (size_t)(nl - t) - *pos : end - *pos};
    *pos = line.off + line.len + 1;
    return line;
}

static sbt_status judge_steps(const char *t, const input *in, size_t n_nums, int strict,
                              sbt_countdown_verdict *v)
{
    size_t n_steps = count_lines(t, in->response), pos = in->response.off;
    judge j = {.t = t, .strict = strict};
    span line = {0, 0};
    if (!ms_init(&j.ms, n_nums + n_steps))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_countdown_verify: no memory for %zu numbers",
                         n_nums + n_steps);
    parse_numbers(t, in->numbers, &j.ms, &n_nums);
    v->n_steps = clamp_i32(n_steps);
    v->expected_steps = n_nums > 0 ? clamp_i32(n_nums - 1) : 0;
    for (size_t i = 0; i < n_steps && v->failure == SBT_FAIL_NONE; i++) {
        step st;
        line = next_line(t, in->response, &pos);
        int matched = strict ? match_strict(t, line, &st) : match_reference(t, line, &st);
        sbt_countdown_failure f = matched ? check_step(&j, &st) : SBT_FAIL_INVALID_STEP;
        if (f != SBT_FAIL_NONE)
            fail_at(v, f, i, line);
    }
    if (v->failure == SBT_FAIL_NONE)
        record_final(v, final_check(&j, in, n_nums, n_steps), n_steps, line);
    free(j.ms.slots);
    return SBT_OK;
}

/* Fills *v (failure, spans, flags) for the text; SBT_OK unless memory runs out. */
static sbt_status judge_text(const char *t, size_t len, int strict, sbt_countdown_verdict *v)
{
    input in;
    size_t n_nums = 0;
    locate_input(t, len, &in);
    v->is_backtrack = in.has_response && in.backtracked;
    v->output_len = seed_output_len(t, len, in.has_response);
    if (in.has_target) {
        v->target_offset = in.target.off;
        v->target_len = in.target.len;
    }
    /* The seed reports a missing response as "Invalid output format" and crashes on a
     * missing or unparsable prompt; we report all of them the first way. */
    if (!in.has_response || !in.has_numbers || !in.has_target ||
        !parse_numbers(t, in.numbers, NULL, &n_nums)) {
        v->failure = SBT_FAIL_INVALID_FORMAT;
        return SBT_OK;
    }
    return judge_steps(t, &in, n_nums, strict, v);
}

sbt_status sbt_countdown_verify(const char *text, size_t len, sbt_countdown_verifier mode,
                                sbt_countdown_verdict *out)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_verify: out is NULL");
    if (out->size < VERDICT_MIN_SIZE)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_countdown_verify: out->size is %zu, need at least %zu "
                         "(set it to sizeof(sbt_countdown_verdict))",
                         out->size, VERDICT_MIN_SIZE);
    if (!text && len > 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_verify: text is NULL but len is %zu",
                         len);
    if (mode != SBT_VERIFY_REFERENCE && mode != SBT_VERIFY_STRICT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_verify: unknown verifier mode %d",
                         (int)mode);

    sbt_countdown_verdict v;
    memset(&v, 0, sizeof v);
    v.size = out->size;
    v.failed_step = -1;
    sbt_status status = judge_text(text ? text : "", len, mode == SBT_VERIFY_STRICT, &v);
    if (status != SBT_OK)
        return status;
    v.is_correct = v.failure == SBT_FAIL_NONE;
    /* A caller built against a newer header may pass a larger struct: leave its tail. */
    memcpy(out, &v, out->size < sizeof v ? out->size : sizeof v);
    return SBT_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Reasons and names                                                                    */

/* snprintf-style output: keeps the full length, writes at most cap-1 bytes plus a NUL. */
typedef struct writer {
    char *buf;
    size_t cap, len;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->cap > 0 && w->len < w->cap - 1) {
        size_t room = w->cap - 1 - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void put_str(writer *w, const char *s) { put(w, s, strlen(s)); }

/* Python's str(int(digits)): leading zeros dropped, "000" gives "0". */
static void put_int(writer *w, const char *t, span digits)
{
    while (digits.len > 1 && t[digits.off] == '0') {
        digits.off++;
        digits.len--;
    }
    put(w, t + digits.off, digits.len);
}

/* "Not reached target: <R of the last step> not equal to <target>". */
static void put_not_reached(writer *w, const sbt_countdown_verdict *v, const char *text)
{
    step st;
    put_str(w, "Not reached target: ");
    if (match_reference(text, (span){v->step_offset, v->step_len}, &st))
        put_int(w, text, st.r);
    put_str(w, " not equal to ");
    put_int(w, text, (span){v->target_offset, v->target_len});
}

/* The words before the failing step's text, or NULL for failures that quote no step. */
static const char *step_prefix(sbt_countdown_failure f)
{
    switch (f) {
    case SBT_FAIL_INVALID_STEP: return "Invalid step format: ";
    case SBT_FAIL_UNKNOWN_NUMBER: return "Unknown number in step: ";
    case SBT_FAIL_INCORRECT_RESULT: return "Incorrect result in step: ";
    case SBT_FAIL_DIVISION_BY_ZERO: return "Division by zero in step: ";
    case SBT_FAIL_NUMBER_TOO_LARGE: return "Number too large in step: ";
    case SBT_FAIL_INEXACT_DIVISION: return "Inexact division in step: ";
    case SBT_FAIL_NEGATIVE_RESULT: return "Negative result in step: ";
    default: return NULL;
    }
}

static int quotes_text(sbt_countdown_failure f)
{
    return step_prefix(f) != NULL || f == SBT_FAIL_NOT_REACHED;
}

static void put_reason(writer *w, const sbt_countdown_verdict *v, const char *text)
{
    char counts[64];
    const char *prefix = step_prefix(v->failure);
    if (prefix) {
        put_str(w, prefix);
        put(w, text + v->step_offset, v->step_len);
        return;
    }
    switch (v->failure) {
    case SBT_FAIL_INVALID_FORMAT: put_str(w, "Invalid output format"); break;
    case SBT_FAIL_NOT_REACHED: put_not_reached(w, v, text); break;
    case SBT_FAIL_STEP_COUNT:
        /* A caller's struct from before expected_steps existed ends before it. */
        if (v->size >= offsetof(sbt_countdown_verdict, expected_steps) + sizeof v->expected_steps)
            snprintf(counts, sizeof counts, "Wrong number of steps: %d instead of %d",
                     (int)v->n_steps, (int)v->expected_steps);
        else
            snprintf(counts, sizeof counts, "Wrong number of steps: %d", (int)v->n_steps);
        put_str(w, counts);
        break;
    case SBT_FAIL_NO_GOAL: put_str(w, "No goal marker: the response backtracked"); break;
    default: break; /* SBT_FAIL_NONE or a value we do not know: "" */
    }
}

size_t sbt_countdown_verdict_reason(const sbt_countdown_verdict *v, const char *text, char *buf,
                                    size_t cap)
{
    writer w = {buf, buf ? cap : 0, 0};
    /* Without the text, only the reasons that quote nothing from it can be written. */
    if (v && v->size >= VERDICT_MIN_SIZE && (text || !quotes_text(v->failure)))
        put_reason(&w, v, text);
    if (w.cap > 0)
        w.buf[w.len < w.cap ? w.len : w.cap - 1] = '\0';
    return w.len;
}

const char *sbt_countdown_failure_name(sbt_countdown_failure failure)
{
    switch (failure) {
    case SBT_FAIL_NONE: return "none";
    case SBT_FAIL_INVALID_FORMAT: return "invalid_format";
    case SBT_FAIL_INVALID_STEP: return "invalid_step";
    case SBT_FAIL_UNKNOWN_NUMBER: return "unknown_number";
    case SBT_FAIL_INCORRECT_RESULT: return "incorrect_result";
    case SBT_FAIL_DIVISION_BY_ZERO: return "division_by_zero";
    case SBT_FAIL_NOT_REACHED: return "not_reached";
    case SBT_FAIL_NUMBER_TOO_LARGE: return "number_too_large";
    case SBT_FAIL_INEXACT_DIVISION: return "inexact_division";
    case SBT_FAIL_NEGATIVE_RESULT: return "negative_result";
    case SBT_FAIL_STEP_COUNT: return "step_count";
    case SBT_FAIL_NO_GOAL: return "no_goal";
    }
    return "unknown";
}
