/* Fast path of the FHIR Observation ingest: a strict JSON scanner that turns the common line into columns.
 *
 * scan(data, start, end, first_line, max_lines, naive_ok, catalogue, plausibility[, zone]) reads the NDJSON lines of data[start:end] and sorts every
 * non-blank line into one of two kinds:
 *
 *   - fast: a line of the plain, common shape, fully checked here, whose fields go into columns;
 *   - slow: every other line, left to kuntalib.fhir.parse.ObservationParser (the reference
 *     implementation), which gives the exact reason when it rejects one.
 *
 * A line is fast only when nothing about it needs judgement: valid UTF-8 and strict JSON (RFC 8259; a
 * byte order mark at the start of the line is ignored, as RFC 8259 allows and the reference parser does),
 * no key named twice in any object, no escape in a field that is kept, every field the parser knows
 * of the expected JSON type (never null), resourceType Observation, status final/amended/corrected/
 * preliminary, subject "Patient/<id>", a LOINC code, times of the full form YYYY-MM-DDThh:mm:ss[.f]
 * with Z or +-hh:mm that name a real date and clock time (the start and the period end may lack the
 * offset when naive_ok: the ingest then reads them in its assumed time zone), value(s) as numbers, components each with a
 * LOINC code and a valueQuantity, at most one identifier with a value, a device "Device/<id>" or none,
 * and no catalogued value outside its plausible range in the catalogue's unit (the catalogue comes
 * with each call; a value in another unit is flagged for the ingest to translate).
 * Everything else is slow, so the two paths can only differ where this file is wrong; the test suite
 * compares them line by line on random input.
 *
 * Returns (reached, lines, last_line, line_no, span, utc, naive, synthetic, precision, line_columns, row_line, value,
 * flags, row_columns, slow): numbers as bytes of int64/uint8/double arrays and each string column as
 * (n, int32 offsets, data, one validity byte per item), for pyarrow and numpy to wrap without handling
 * items one by one. ``slow`` holds (line, start, end) per slow line. The GIL is released while scanning.
 *
 * ``zone`` (optional; bytes of 2m + 1 int64: m transition instants in UTC seconds, ascending, then the
 * m + 1 UTC offsets in seconds before the first and after each) is the assumed time zone: a start or
 * period end without an offset, of a year 1900-2037, is then converted here (local_micros) and marked in
 * ``naive`` (uint8 per fast line: bit 0 the start, bit 1 the period end); without it, or where the wall
 * time occurs twice, its ``utc`` is NO_TIME and the ingest's general conversion decides.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OK 0
#define SLOW 1
#define NOMEM 2
#define MAX_DEPTH 64
#define MAX_KEYS 64
#define MAX_COMPONENTS 16

/* ---------------------------------------------------------------- growable columns */

typedef struct {
    char *data;
    int64_t len, cap;
    int32_t *off; /* n + 1 offsets */
    uint8_t *valid;
    int64_t n, ncap;
} StrCol;

typedef struct {
    char *data;
    int64_t len, cap; /* bytes */
} Buf;

static int buf_reserve(Buf *b, int64_t extra) {
    if (b->len + extra <= b->cap) return OK;
    int64_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *d = realloc(b->data, (size_t)cap);
    if (!d) return NOMEM;
    b->data = d;
    b->cap = cap;
    return OK;
}

static int buf_put(Buf *b, const void *p, int64_t n) {
    if (buf_reserve(b, n)) return NOMEM;
    memcpy(b->data + b->len, p, (size_t)n);
    b->len += n;
    return OK;
}

static int col_init(StrCol *c) {
    memset(c, 0, sizeof *c);
    c->ncap = 1024;
    c->off = malloc(sizeof(int32_t) * (size_t)(c->ncap + 1));
    c->valid = malloc((size_t)c->ncap);
    if (!c->off || !c->valid) return NOMEM;
    c->off[0] = 0;
    return OK;
}

static void col_free(StrCol *c) {
    free(c->data);
    free(c->off);
    free(c->valid);
}

/* Append a value made of up to three pieces (a NULL first piece appends a null). */
static int col_put3(StrCol *c, const char *a, int64_t na, const char *b, int64_t nb, const char *d, int64_t nd) {
    if (c->n + 1 > c->ncap) {
        int64_t ncap = c->ncap * 2;
        int32_t *off = realloc(c->off, sizeof(int32_t) * (size_t)(ncap + 1));
        if (!off) return NOMEM;
        c->off = off;
        uint8_t *valid = realloc(c->valid, (size_t)ncap);
        if (!valid) return NOMEM;
        c->valid = valid;
        c->ncap = ncap;
    }
    int64_t total = a ? na + nb + nd : 0;
    if (c->len + total > INT32_MAX) return NOMEM;
    if (c->len + total > c->cap) {
        int64_t cap = c->cap ? c->cap : 65536;
        while (cap < c->len + total) cap *= 2;
        char *d2 = realloc(c->data, (size_t)cap);
        if (!d2) return NOMEM;
        c->data = d2;
        c->cap = cap;
    }
    if (a) {
        if (na) memcpy(c->data + c->len, a, (size_t)na);
        if (nb) memcpy(c->data + c->len + na, b, (size_t)nb);
        if (nd) memcpy(c->data + c->len + na + nb, d, (size_t)nd);
    }
    c->len += total;
    c->valid[c->n] = a != NULL;
    c->n += 1;
    c->off[c->n] = (int32_t)c->len;
    return OK;
}

/* ---------------------------------------------------------------- one line */

typedef struct {
    const char *p;
    int64_t n;
    int set; /* the key was present (with a string value) */
} Str;

typedef struct {
    double value;
    int has_value;
    Str comparator, unit, system, code;
} Qty;

typedef struct {
    Str loinc;
    int has_qty;
    Qty q;
} Comp;

typedef struct {
    Str rt, id, status, edt, einst, pstart, pend, issued, subject, device, source, version_id, last_updated;
    int has_period, has_qty, synthetic;
    Str code_loinc;
    Qty q;
    int n_comp;
    int has_comp_key;
    Comp comp[MAX_COMPONENTS];
    int n_ident;
    Str ident_system, ident_value;
} Obs;

typedef struct {
    const char *s, *e; /* cursor and end of the line */
} P;

static const char LOINC[] = "http://loinc.org";

static inline void ws(P *p) {
    while (p->s < p->e && (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n')) p->s++;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

static inline int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A JSON string at the cursor (which is on the opening quote). Escapes are validated; when ``plain``
 * is set a backslash makes the line slow (a kept field must be its bytes as they stand). UTF-8 is
 * validated strictly (no overlong forms, no surrogates, nothing above U+10FFFF). */
static int read_str(P *p, Str *out, int plain) {
    const unsigned char *s = (const unsigned char *)p->s + 1, *e = (const unsigned char *)p->e;
    const unsigned char *start = s;
    while (s < e) {
        /* eight plain ASCII bytes at a time (no quote, backslash, control or non-ASCII byte among them) */
        while (e - s >= 8) {
            uint64_t v;
            memcpy(&v, s, 8);
            const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
            uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
            uint64_t special = ((q - ones) & ~q) | ((b - ones) & ~b) | (v - ones * 0x20) | v;
            special &= high;
            if (special) { /* the lowest flagged byte is exact: borrows only run towards higher bytes */
                s += __builtin_ctzll(special) / 8;
                break;
            }
            s += 8;
        }
        if (s >= e) break;
        unsigned char c = *s;
        if (c == '"') {
            if (out) {
                out->p = (const char *)start;
                out->n = (int64_t)(s - start);
                out->set = 1;
            }
            p->s = (const char *)s + 1;
            return OK;
        }
        if (c < 0x20) return SLOW;
        if (c == '\\') {
            if (plain || s + 1 >= e) return SLOW;
            unsigned char x = s[1];
            if (x == 'u') {
                if (s + 6 > e) return SLOW;
                int v = 0;
                for (int k = 2; k < 6; k++) {
                    int h = hexval((char)s[k]);
                    if (h < 0) return SLOW;
                    v = v * 16 + h;
                }
                if (v >= 0xD800 && v <= 0xDFFF) return SLOW; /* surrogates: left to the reference parser */
                s += 6;
                continue;
            }
            if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' || x == 'n' || x == 'r' || x == 't') {
                s += 2;
                continue;
            }
            return SLOW;
        }
        if (c < 0x80) {
            s++;
            continue;
        }
        int n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return SLOW;
        if (s + n >= e) return SLOW;
        for (int k = 1; k <= n; k++) {
            if ((s[k] & 0xC0) != 0x80) return SLOW;
            cp = (cp << 6) | (s[k] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return SLOW;
        s += n + 1;
    }
    return SLOW;
}

/* A JSON number (strict grammar); with ``out`` its value, which must be finite. */
static int read_num(P *p, double *out) {
    const char *s = p->s, *e = p->e, *start = s;
    if (s < e && *s == '-') s++;
    if (s >= e) return SLOW;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') { while (s < e && is_digit(*s)) s++; }
    else return SLOW;
    if (s < e && *s == '.') {
        s++;
        if (s >= e || !is_digit(*s)) return SLOW;
        while (s < e && is_digit(*s)) s++;
    }
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-')) s++;
        if (s >= e || !is_digit(*s)) return SLOW;
        while (s < e && is_digit(*s)) s++;
    }
    p->s = s;
    if (out) {
        char buf[32];
        int64_t n = (int64_t)(s - start);
        if (n >= (int64_t)sizeof buf) return SLOW; /* long literals: left to the reference parser */
        memcpy(buf, start, (size_t)n);
        buf[n] = 0;
        *out = strtod(buf, NULL);
        if (!isfinite(*out)) return SLOW;
    }
    return OK;
}

static int lit(P *p, const char *word, int n) {
    if (p->e - p->s < n || memcmp(p->s, word, (size_t)n) != 0) return SLOW;
    p->s += n;
    return OK;
}

/* Object iteration with a duplicate-key check. */
typedef struct {
    Str keys[MAX_KEYS];
    int n;
} Keys;

static int key_new(Keys *k, Str *key) {
    for (int i = 0; i < k->n; i++)
        if (k->keys[i].n == key->n && memcmp(k->keys[i].p, key->p, (size_t)key->n) == 0) return SLOW;
    if (k->n >= MAX_KEYS) return SLOW;
    k->keys[k->n++] = *key;
    return OK;
}

/* Whether a key is the literal ``name`` (its length known at compile time). */
#define key_is(k, name) ((k)->n == (int64_t)(sizeof(name) - 1) && memcmp((k)->p, (name), sizeof(name) - 1) == 0)

static int skip_value(P *p, int depth);

/* Iterate over the members of an object: call ``member`` for each key; it must consume the value. */
typedef int (*MemberFn)(P *p, Str *key, void *ctx, int depth);

static int object(P *p, MemberFn member, void *ctx, int depth) {
    if (depth > MAX_DEPTH) return SLOW;
    ws(p);
    if (p->s >= p->e || *p->s != '{') return SLOW;
    p->s++;
    Keys keys;
    keys.n = 0;
    ws(p);
    if (p->s < p->e && *p->s == '}') { p->s++; return OK; }
    for (;;) {
        ws(p);
        if (p->s >= p->e || *p->s != '"') return SLOW;
        Str key = {0};
        int r = read_str(p, &key, 1); /* an escaped key is left to the reference parser */
        if (r) return r;
        if ((r = key_new(&keys, &key))) return r;
        ws(p);
        if (p->s >= p->e || *p->s != ':') return SLOW;
        p->s++;
        ws(p);
        r = member ? member(p, &key, ctx, depth + 1) : skip_value(p, depth + 1);
        if (r) return r;
        ws(p);
        if (p->s >= p->e) return SLOW;
        if (*p->s == ',') { p->s++; continue; }
        if (*p->s == '}') { p->s++; return OK; }
        return SLOW;
    }
}

typedef int (*ItemFn)(P *p, void *ctx, int index, int depth);

static int array(P *p, ItemFn item, void *ctx, int depth) {
    if (depth > MAX_DEPTH) return SLOW;
    ws(p);
    if (p->s >= p->e || *p->s != '[') return SLOW;
    p->s++;
    ws(p);
    if (p->s < p->e && *p->s == ']') { p->s++; return OK; }
    for (int i = 0;; i++) {
        ws(p);
        int r = item ? item(p, ctx, i, depth + 1) : skip_value(p, depth + 1);
        if (r) return r;
        ws(p);
        if (p->s >= p->e) return SLOW;
        if (*p->s == ',') { p->s++; continue; }
        if (*p->s == ']') { p->s++; return OK; }
        return SLOW;
    }
}

static int skip_value(P *p, int depth) {
    if (depth > MAX_DEPTH) return SLOW;
    ws(p);
    if (p->s >= p->e) return SLOW;
    switch (*p->s) {
        case '{': return object(p, NULL, NULL, depth);
        case '[': return array(p, NULL, NULL, depth);
        case '"': return read_str(p, NULL, 0);
        case 't': return lit(p, "true", 4);
        case 'f': return lit(p, "false", 5);
        case 'n': return lit(p, "null", 4);
        default: return read_num(p, NULL);
    }
}

/* A kept string field: the value must be a plain string (not null, no escapes). */
static int str_field(P *p, Str *out) {
    if (p->s >= p->e || *p->s != '"') return SLOW;
    return read_str(p, out, 1);
}

/* An object of which two string members are kept: ``system`` and ``code`` (a Coding) or ``system`` and
 * ``value`` (an Identifier); other members are checked and skipped. */
typedef struct {
    int identifier; /* the second key is "value" rather than "code" */
    Str system, second;
} Pair;

static int pair_member(P *p, Str *key, void *ctx, int depth) {
    Pair *pr = ctx;
    if (key_is(key, "system")) return str_field(p, &pr->system);
    if (pr->identifier ? key_is(key, "value") : key_is(key, "code")) return str_field(p, &pr->second);
    return skip_value(p, depth);
}

static int pair_object(P *p, Pair *pr, int identifier, int depth) {
    memset(pr, 0, sizeof *pr);
    pr->identifier = identifier;
    if (p->s >= p->e || *p->s != '{') return SLOW;
    return object(p, pair_member, pr, depth);
}

/* code.coding[*]: the first coding whose system is LOINC and whose code is not empty. ctx: Str* (loinc). */
static int concept_coding_item(P *p, void *ctx, int index, int depth) {
    (void)index;
    Pair c;
    int r = pair_object(p, &c, 0, depth);
    if (r) return r;
    Str *loinc = ctx;
    if (!loinc->set && c.system.set && c.system.n == (int64_t)(sizeof LOINC - 1)
        && memcmp(c.system.p, LOINC, sizeof LOINC - 1) == 0 && c.second.set && c.second.n > 0)
        *loinc = c.second;
    return OK;
}

static int concept_member(P *p, Str *key, void *ctx, int depth) {
    if (key_is(key, "coding")) return array(p, concept_coding_item, ctx, depth);
    return skip_value(p, depth);
}

static int concept(P *p, Str *loinc, int depth) {
    if (p->s >= p->e || *p->s != '{') return SLOW;
    return object(p, concept_member, loinc, depth);
}

static int tag_item(P *p, void *ctx, int index, int depth) {
    (void)index;
    Pair c;
    int r = pair_object(p, &c, 0, depth);
    if (r) return r;
    const Str *code = &c.second;
    if (code->set && ((code->n == 5 && memcmp(code->p, "HTEST", 5) == 0) || (code->n == 9 && memcmp(code->p, "synthetic", 9) == 0)))
        *(int *)ctx = 1;
    return OK;
}

static int meta_member(P *p, Str *key, void *ctx, int depth) {
    Obs *o = ctx;
    if (key_is(key, "source")) return str_field(p, &o->source);
    if (key_is(key, "versionId")) return str_field(p, &o->version_id);
    if (key_is(key, "lastUpdated")) return str_field(p, &o->last_updated);
    if (key_is(key, "tag")) return array(p, tag_item, &o->synthetic, depth);
    return skip_value(p, depth);
}

static int ref_member(P *p, Str *key, void *ctx, int depth) {
    if (key_is(key, "reference")) return str_field(p, (Str *)ctx);
    return skip_value(p, depth);
}

static int period_member(P *p, Str *key, void *ctx, int depth) {
    Obs *o = ctx;
    if (key_is(key, "start")) return str_field(p, &o->pstart);
    if (key_is(key, "end")) return str_field(p, &o->pend);
    return skip_value(p, depth);
}

static int qty_member(P *p, Str *key, void *ctx, int depth) {
    Qty *q = ctx;
    if (key_is(key, "value")) {
        if (p->s >= p->e || !(*p->s == '-' || is_digit(*p->s))) return SLOW;
        q->has_value = 1;
        return read_num(p, &q->value);
    }
    if (key_is(key, "comparator")) return str_field(p, &q->comparator);
    if (key_is(key, "unit")) return str_field(p, &q->unit);
    if (key_is(key, "system")) return str_field(p, &q->system);
    if (key_is(key, "code")) return str_field(p, &q->code);
    return skip_value(p, depth);
}

static int qty(P *p, Qty *q, int depth) {
    if (p->s >= p->e || *p->s != '{') return SLOW;
    return object(p, qty_member, q, depth);
}

static int component_member(P *p, Str *key, void *ctx, int depth) {
    Comp *c = ctx;
    if (key_is(key, "code")) return concept(p, &c->loinc, depth);
    if (key_is(key, "valueQuantity")) { c->has_qty = 1; return qty(p, &c->q, depth); }
    if (key_is(key, "valueString") || key_is(key, "valueCodeableConcept") || key_is(key, "dataAbsentReason")) return SLOW;
    return skip_value(p, depth);
}

static int component_item(P *p, void *ctx, int index, int depth) {
    Obs *o = ctx;
    if (index >= MAX_COMPONENTS || p->s >= p->e || *p->s != '{') return SLOW;
    Comp *c = &o->comp[index];
    memset(c, 0, sizeof *c);
    o->n_comp = index + 1;
    return object(p, component_member, c, depth);
}

static int identifier_item(P *p, void *ctx, int index, int depth) {
    (void)index;
    Obs *o = ctx;
    Pair id;
    int r = pair_object(p, &id, 1, depth);
    if (r) return r;
    if (id.second.set && id.second.n > 0) {
        o->n_ident++;
        o->ident_system = id.system;
        o->ident_value = id.second;
    }
    return OK;
}

static int obs_member(P *p, Str *key, void *ctx, int depth) {
    Obs *o = ctx;
    switch (key->n) {
        case 2:
            if (key_is(key, "id")) return str_field(p, &o->id);
            break;
        case 4:
            if (key_is(key, "meta")) {
                if (p->s >= p->e || *p->s != '{') return SLOW;
                return object(p, meta_member, o, depth);
            }
            if (key_is(key, "code")) return concept(p, &o->code_loinc, depth);
            break;
        case 6:
            if (key_is(key, "status")) return str_field(p, &o->status);
            if (key_is(key, "issued")) return str_field(p, &o->issued);
            if (key_is(key, "device")) {
                if (p->s >= p->e || *p->s != '{') return SLOW;
                return object(p, ref_member, &o->device, depth);
            }
            break;
        case 7:
            if (key_is(key, "subject")) {
                if (p->s >= p->e || *p->s != '{') return SLOW;
                return object(p, ref_member, &o->subject, depth);
            }
            break;
        case 9:
            if (key_is(key, "component")) { o->has_comp_key = 1; return array(p, component_item, o, depth); }
            break;
        case 10:
            if (key_is(key, "identifier")) return array(p, identifier_item, o, depth);
            break;
        case 12:
            if (key_is(key, "resourceType")) return str_field(p, &o->rt);
            break;
        case 13:
            if (key_is(key, "valueQuantity")) { o->has_qty = 1; return qty(p, &o->q, depth); }
            break;
        case 15:
            if (key_is(key, "effectivePeriod")) {
                o->has_period = 1;
                if (p->s >= p->e || *p->s != '{') return SLOW;
                return object(p, period_member, o, depth);
            }
            break;
        case 16:
            if (key_is(key, "effectiveInstant")) return str_field(p, &o->einst);
            break;
        case 17:
            if (key_is(key, "effectiveDateTime")) return str_field(p, &o->edt);
            break;
        default:
            break;
    }
    if (key_is(key, "valueString") || key_is(key, "valueCodeableConcept") || key_is(key, "valueBoolean")
        || key_is(key, "valueInteger") || key_is(key, "dataAbsentReason"))
        return SLOW;
    return skip_value(p, depth);
}

/* ---------------------------------------------------------------- checks */

static inline int d2(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* A full FHIR dateTime: YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|+-hh:mm), a real date and clock time; without
 * the offset only when ``naive_ok``. Returns 0 (not of this form: slow), 1 (second) or 2 (fraction). */
static int full_time(const Str *t, int naive_ok) {
    const char *s = t->p;
    int64_t n = t->n;
    if (n < 19) return 0;
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; i < 19; i++) {
        if (shape[i] == 'd') { if (!is_digit(s[i])) return 0; }
        else if (s[i] != shape[i]) return 0;
    }
    int64_t i = 19;
    int frac = 0;
    if (i < n && s[i] == '.') {
        int64_t k = i + 1;
        while (k < n && is_digit(s[k])) k++;
        if (k - i - 1 < 1 || k - i - 1 > 9) return 0;
        frac = 1;
        i = k;
    }
    if (i == n) { if (!naive_ok) return 0; }
    else if (i == n - 1) { if (s[i] != 'Z') return 0; }
    else if (i == n - 6) {
        if ((s[i] != '+' && s[i] != '-') || !is_digit(s[i + 1]) || !is_digit(s[i + 2]) || s[i + 3] != ':'
            || !is_digit(s[i + 4]) || !is_digit(s[i + 5]))
            return 0;
        if (d2(s + i + 1) > 14 || d2(s + i + 4) > 59) return 0;
    } else return 0;
    int year = d2(s) * 100 + d2(s + 2), month = d2(s + 5), day = d2(s + 8);
    if (year < 1 || month < 1 || month > 12 || day < 1) return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[month - 1] + (month == 2 && leap)) return 0;
    if (d2(s + 11) > 23 || d2(s + 14) > 59 || d2(s + 17) > 60) return 0;
    return frac ? 2 : 1;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define NO_TIME INT64_MIN

enum { L_ID, L_IDENT, L_PATIENT, L_DEVICE, L_EFFECTIVE, L_PERIOD_END, L_ISSUED, L_SOURCE, L_STATUS, L_VERSION, N_LCOL };
enum { R_PANEL, R_CODE, R_UNIT, R_COMPARATOR, N_RCOL };

#define MAX_CATALOGUE 64
typedef struct {
    char code[32], unit[32];
    int64_t code_n, unit_n;
    double lo, hi;
} Measure;

typedef struct {
    StrCol l[N_LCOL];
    StrCol r[N_RCOL];
    Buf line_no, synthetic, precision; /* per fast line: int64, uint8, uint8 */
    Buf span;                          /* per fast line: int64 start, int64 end (offsets in the buffer) */
    Buf utc;                           /* per fast line: int64 start, period end, issued (NO_TIME: absent or not computed) */
    Buf naive;                         /* per fast line: uint8, bit 0: the start, bit 1: the period end was read in the zone */
    const int64_t *zone_at, *zone_off; /* the assumed zone: transitions (UTC s, ascending) and offsets (s), or none */
    int64_t zone_n;                    /* transitions; zone_off has zone_n + 1 entries (before the first, after each) */
    Buf row_line, value, flags;        /* per row: int64, double, uint8 (1 catalogued, 2 unit to translate) */
    Measure cat[MAX_CATALOGUE];        /* the catalogue: LOINC code, canonical unit, plausible range */
    int n_cat, plausibility;
    Buf slow;                          /* per slow line: int64 line, int64 start, int64 end */
    int64_t n_fast, n_lines, last_line;
} Out;

/* A local wall time (microseconds as if UTC) in the assumed zone as UTC microseconds, by the rule of the
 * ingest's general conversion (Arrow's assume_timezone): a wall time of one instant gives it; one that
 * falls in a gap (the clocks go forward) gives the end of the gap, the instant of the change; one that
 * occurs twice (the clocks go back) gives NO_TIME, for the general conversion to reject with its reason.
 * The interval of the zone table with offset zone_off[c] is [zone_at[c - 1], zone_at[c]). */
static int64_t local_micros(const Out *out, int64_t wall) {
    const int64_t *at = out->zone_at, *off = out->zone_off, m = out->zone_n;
    int64_t lo = 0, hi = m, ws_ = wall / 1000000 - (wall % 1000000 < 0);
    while (lo < hi) { /* lo: the number of transitions at or before the wall time read as UTC */
        int64_t mid = (lo + hi) / 2;
        if (at[mid] <= ws_) lo = mid + 1; else hi = mid;
    }
    int64_t found = NO_TIME, count = 0;
    for (int64_t c = lo - 2; c <= lo + 2; c++) { /* offsets are hours, transitions months apart */
        if (c < 0 || c > m) continue;
        int64_t u = wall - off[c] * 1000000;
        if ((c == 0 || u >= at[c - 1] * 1000000) && (c == m || u < at[c] * 1000000)) { found = u; count++; }
    }
    if (count == 1) return found;
    if (count > 1) return NO_TIME;
    for (int64_t g = lo - 2; g <= lo + 1; g++) { /* in a gap: the change at[g] between intervals g and g + 1 */
        if (g < 0 || g >= m) continue;
        if (wall - off[g] * 1000000 >= at[g] * 1000000 && wall - off[g + 1] * 1000000 < at[g] * 1000000) return at[g] * 1000000;
    }
    return NO_TIME;
}

/* Whether a time ``full_time`` accepted has no offset. */
static inline int is_naive(const Str *t) {
    char c = t->p[t->n - 1];
    return c != 'Z' && !(t->n >= 25 && (t->p[t->n - 6] == '+' || t->p[t->n - 6] == '-'));
}

/* Microseconds since the epoch (UTC) of a time ``full_time`` accepted, or NO_TIME where the ingest's
 * general conversion must decide: a leap second, more than six fraction digits, or no offset where
 * ``out`` has no zone table, the year is outside 1900-2037 (the table's span) or the wall time occurs
 * twice. Without an offset the time is read in the assumed zone (local_micros). */
static int64_t utc_micros(const Out *out, const Str *t) {
    const char *s = t->p;
    int64_t n = t->n, i = 19, frac = 0;
    if (d2(s + 17) > 59) return NO_TIME;
    if (i < n && s[i] == '.') {
        int64_t k = i + 1, digits = 0;
        while (k < n && is_digit(s[k])) { if (digits < 6) frac = frac * 10 + (s[k] - '0'); digits++; k++; }
        if (digits > 6) return NO_TIME;
        for (; digits < 6; digits++) frac *= 10;
        i = k;
    }
    int64_t offset = 0;
    int year = d2(s) * 100 + d2(s + 2);
    int64_t days = days_from_civil(year, d2(s + 5), d2(s + 8));
    int64_t wall = (days * 86400 + d2(s + 11) * 3600 + d2(s + 14) * 60 + d2(s + 17)) * 1000000 + frac;
    if (i == n) {
        if (!out || !out->zone_off || year < 1900 || year > 2037) return NO_TIME;
        return local_micros(out, wall);
    }
    if (s[i] != 'Z') offset = (s[i] == '-' ? -1 : 1) * (d2(s + i + 1) * 3600 + d2(s + i + 4) * 60);
    return wall - offset * 1000000;
}

/* "Kind/<id>" with exactly one '/' and a non-empty id: the id; else not set. */
static Str simple_ref(const Str *ref, const char *kind) {
    Str out = {0};
    size_t k = strlen(kind);
    if (!ref->set || ref->n <= (int64_t)k + 1 || memcmp(ref->p, kind, k) != 0 || ref->p[k] != '/') return out;
    if (memchr(ref->p + k + 1, '/', (size_t)(ref->n - (int64_t)k - 1))) return out;
    out.p = ref->p + k + 1;
    out.n = ref->n - (int64_t)k - 1;
    out.set = 1;
    return out;
}

static int str_eq(const Str *s, const char *lit_) {
    size_t n = strlen(lit_);
    return s->set && (size_t)s->n == n && memcmp(s->p, lit_, n) == 0;
}

static int contains(const Str *s, const char *needle) {
    size_t n = strlen(needle);
    if (!s->set || (size_t)s->n < n) return 0;
    for (int64_t i = 0; i + (int64_t)n <= s->n; i++)
        if (memcmp(s->p + i, needle, n) == 0) return 1;
    return 0;
}

/* The unit a quantity is read in: its code when it has one and the system is UCUM (or absent), else its unit. */
static const Str *qty_unit(const Qty *q) {
    if (q->code.set && q->code.n > 0 && (!q->system.set || contains(&q->system, "unitsofmeasure"))) return &q->code;
    return &q->unit;
}

/* ---------------------------------------------------------------- output */


static int put(StrCol *c, const Str *s) { return s->set ? col_put3(c, s->p, s->n, NULL, 0, NULL, 0) : col_put3(c, NULL, 0, NULL, 0, NULL, 0); }

/* The catalogue flags of one value (1: catalogued, 2: its unit must be translated by the ingest), or -1
 * when the value lies outside the measure's plausible range in its canonical unit (the line is slow). */
static int row_flags(const Out *out, const Str *code, const Str *unit, double value) {
    for (int k = 0; k < out->n_cat; k++) {
        const Measure *m = &out->cat[k];
        if (m->code_n != code->n || memcmp(m->code, code->p, (size_t)code->n) != 0) continue;
        if (!unit->set || unit->n != m->unit_n || memcmp(unit->p, m->unit, (size_t)m->unit_n) != 0) return 3;
        if (out->plausibility && m->hi > m->lo && !(m->lo <= value && value <= m->hi)) return -1;
        return 1;
    }
    return 0;
}

static int emit(Out *out, Obs *o, int64_t line, int64_t span[2], int naive_ok) {
    /* semantic checks: anything unusual is slow */
    if (!str_eq(&o->rt, "Observation")) return SLOW;
    if (!(str_eq(&o->status, "final") || str_eq(&o->status, "amended") || str_eq(&o->status, "corrected")
          || str_eq(&o->status, "preliminary")))
        return SLOW;
    Str patient = simple_ref(&o->subject, "Patient");
    if (!patient.set || !o->code_loinc.set) return SLOW;
    const Str *effective;
    const Str *period_end = NULL;
    int instant = 0;
    if (o->edt.set) effective = &o->edt;
    else if (o->einst.set) { effective = &o->einst; instant = 1; }
    else if (o->has_period && o->pstart.set) {
        effective = &o->pstart;
        if (o->pend.set) {
            if (!full_time(&o->pend, naive_ok)) return SLOW;
            period_end = &o->pend;
        }
    } else return SLOW;
    int precision = full_time(effective, naive_ok && !instant);
    if (!precision) return SLOW;
    if (o->issued.set && !full_time(&o->issued, 0)) return SLOW; /* issued is an instant: it needs an offset */
    Str device = {0};
    if (o->device.set && o->device.n > 0) {
        device = simple_ref(&o->device, "Device");
        if (!device.set) return SLOW;
    }
    if (o->has_comp_key && o->n_comp == 0) return SLOW;
    if (o->n_comp > 0) {
        for (int k = 0; k < o->n_comp; k++)
            if (!o->comp[k].loinc.set || !o->comp[k].has_qty || !o->comp[k].q.has_value) return SLOW;
    } else if (!o->has_qty || !o->q.has_value) return SLOW;
    if (o->n_ident > 1) return SLOW;
    uint8_t flags[MAX_COMPONENTS];
    if (o->n_comp > 0) {
        for (int k = 0; k < o->n_comp; k++) {
            int f = row_flags(out, &o->comp[k].loinc, qty_unit(&o->comp[k].q), o->comp[k].q.value);
            if (f < 0) return SLOW;
            flags[k] = (uint8_t)f;
        }
    } else {
        int f = row_flags(out, &o->code_loinc, qty_unit(&o->q), o->q.value);
        if (f < 0) return SLOW;
        flags[0] = (uint8_t)f;
    }
    char vbuf[16];
    int vlen = 0;
    const Str *vid = &o->version_id;
    if (vid->set && vid->n > 0) {
        int digits = 1;
        for (int64_t k = 0; k < vid->n; k++)
            if (!is_digit(vid->p[k])) { digits = 0; if ((unsigned char)vid->p[k] >= 0x80) return SLOW; }
        if (digits) {
            if (vid->n > 12) return SLOW;
            memcpy(vbuf, "v:", 2);
            memset(vbuf + 2, '0', (size_t)(12 - vid->n));
            memcpy(vbuf + 2 + 12 - vid->n, vid->p, (size_t)vid->n);
            vlen = 14;
        }
    }
    /* accepted by the fast path: write the line and its rows */
    int64_t k = out->n_fast;
    int r = 0;
    r |= buf_put(&out->line_no, &line, sizeof line);
    r |= buf_put(&out->span, span, 2 * sizeof(int64_t));
    int64_t utc[3] = {utc_micros(out, effective), period_end ? utc_micros(out, period_end) : NO_TIME,
                      o->issued.set ? utc_micros(NULL, &o->issued) : NO_TIME};
    r |= buf_put(&out->utc, utc, sizeof utc);
    uint8_t naive = (uint8_t)((utc[0] != NO_TIME && is_naive(effective)) | ((period_end && utc[1] != NO_TIME && is_naive(period_end)) << 1));
    r |= buf_put(&out->naive, &naive, 1);
    uint8_t syn = (uint8_t)o->synthetic, prec = (uint8_t)precision;
    r |= buf_put(&out->synthetic, &syn, 1);
    r |= buf_put(&out->precision, &prec, 1);
    r |= put(&out->l[L_ID], &o->id);
    if (o->n_ident == 1)
        r |= col_put3(&out->l[L_IDENT], o->ident_system.set ? o->ident_system.p : "", o->ident_system.set ? o->ident_system.n : 0,
                      "|", 1, o->ident_value.p, o->ident_value.n);
    else r |= col_put3(&out->l[L_IDENT], NULL, 0, NULL, 0, NULL, 0);
    r |= put(&out->l[L_PATIENT], &patient);
    r |= put(&out->l[L_DEVICE], &device);
    r |= put(&out->l[L_EFFECTIVE], effective);
    Str none = {0};
    r |= put(&out->l[L_PERIOD_END], period_end ? period_end : &none);
    r |= put(&out->l[L_ISSUED], &o->issued);
    r |= put(&out->l[L_SOURCE], &o->source);
    r |= put(&out->l[L_STATUS], &o->status);
    if (vlen) r |= col_put3(&out->l[L_VERSION], vbuf, vlen, NULL, 0, NULL, 0);
    else if (o->last_updated.set && o->last_updated.n > 0)
        r |= col_put3(&out->l[L_VERSION], "t:", 2, o->last_updated.p, o->last_updated.n, NULL, 0);
    else r |= col_put3(&out->l[L_VERSION], NULL, 0, NULL, 0, NULL, 0);
    if (o->n_comp > 0) {
        for (int c = 0; c < o->n_comp; c++) {
            Comp *cp = &o->comp[c];
            r |= buf_put(&out->row_line, &k, sizeof k);
            r |= put(&out->r[R_PANEL], &o->code_loinc);
            r |= put(&out->r[R_CODE], &cp->loinc);
            r |= buf_put(&out->value, &cp->q.value, sizeof(double));
            r |= buf_put(&out->flags, &flags[c], 1);
            r |= put(&out->r[R_UNIT], qty_unit(&cp->q));
            r |= put(&out->r[R_COMPARATOR], &cp->q.comparator);
        }
    } else {
        r |= buf_put(&out->row_line, &k, sizeof k);
        r |= put(&out->r[R_PANEL], &none);
        r |= put(&out->r[R_CODE], &o->code_loinc);
        r |= buf_put(&out->value, &o->q.value, sizeof(double));
        r |= buf_put(&out->flags, &flags[0], 1);
        r |= put(&out->r[R_UNIT], qty_unit(&o->q));
        r |= put(&out->r[R_COMPARATOR], &o->q.comparator);
    }
    if (r) return NOMEM;
    out->n_fast++;
    return OK;
}

static int scan_line(Out *out, const char *s, const char *e, int64_t line, int64_t span[2], int naive_ok) {
    Obs o;
    memset(&o, 0, sizeof o);
    if (e - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* a byte order mark: ignored, as by the parser */
    P p = {s, e};
    ws(&p);
    if (p.s >= p.e || *p.s != '{') return SLOW;
    int r = object(&p, obs_member, &o, 0);
    if (r) return r;
    ws(&p);
    if (p.s != p.e) return SLOW;
    return emit(out, &o, line, span, naive_ok);
}

static inline int blank(const char *s, const char *e) {
    for (; s < e; s++)
        if (!(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\x0b' || *s == '\x0c')) return 0;
    return 1;
}

/* Scan lines of buf[start:end] from line number first_line; stop after max_lines physical lines.
 * Returns the offset reached (just past the last newline consumed, or end). */
static int scan_block(Out *out, const char *buf, int64_t start, int64_t end, int64_t first_line, int64_t max_lines,
                      int naive_ok, int64_t *reached) {
    int64_t pos = start, line = first_line, seen = 0;
    while (pos < end && seen < max_lines) {
        const char *nl = memchr(buf + pos, '\n', (size_t)(end - pos));
        int64_t stop = nl ? (int64_t)(nl - buf) : end;
        if (!blank(buf + pos, buf + stop)) {
            out->n_lines++;
            int64_t span[2] = {pos, stop};
            int r = scan_line(out, buf + pos, buf + stop, line, span, naive_ok);
            if (r == NOMEM) return NOMEM;
            if (r == SLOW) {
                int64_t rec[3] = {line, pos, stop};
                if (buf_put(&out->slow, rec, sizeof rec)) return NOMEM;
            }
        }
        out->last_line = line;
        line++;
        seen++;
        pos = nl ? stop + 1 : end;
    }
    *reached = pos;
    return OK;
}

static PyObject *col_tuple(StrCol *c) {
    /* (n, offsets bytes, data bytes, validity bytes (one per item)) */
    return Py_BuildValue("(Ly#y#y#)", (long long)c->n, (const char *)c->off, (Py_ssize_t)(sizeof(int32_t) * (size_t)(c->n + 1)),
                         c->data ? c->data : "", (Py_ssize_t)c->len, (const char *)c->valid, (Py_ssize_t)c->n);
}

static PyObject *buf_bytes(Buf *b) { return PyBytes_FromStringAndSize(b->data ? b->data : "", (Py_ssize_t)b->len); }

static void out_free(Out *out) {
    for (int i = 0; i < N_LCOL; i++) col_free(&out->l[i]);
    for (int i = 0; i < N_RCOL; i++) col_free(&out->r[i]);
    free(out->line_no.data);
    free(out->span.data);
    free(out->utc.data);
    free(out->naive.data);
    free(out->synthetic.data);
    free(out->precision.data);
    free(out->row_line.data);
    free(out->value.data);
    free(out->flags.data);
    free(out->slow.data);
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    long long start, end, first_line, max_lines;
    int naive_ok, plausibility;
    PyObject *catalogue;
    Py_buffer zone = {0};
    if (!PyArg_ParseTuple(args, "y*LLLLpOp|y*", &view, &start, &end, &first_line, &max_lines, &naive_ok, &catalogue,
                          &plausibility, &zone))
        return NULL;
    if (zone.buf && (zone.len % 8 != 0 || zone.len < 8 || (zone.len / 8) % 2 != 1)) {
        PyBuffer_Release(&view);
        PyBuffer_Release(&zone);
        PyErr_SetString(PyExc_ValueError, "scan: zone must be 2m + 1 int64 (m transitions, then m + 1 offsets)");
        return NULL;
    }
    if (start < 0 || end > view.len || start > end || max_lines < 1) {
        PyBuffer_Release(&view);
        PyBuffer_Release(&zone);
        PyErr_SetString(PyExc_ValueError, "scan: start/end outside the buffer, or max_lines < 1");
        return NULL;
    }
    Out out;
    memset(&out, 0, sizeof out);
    out.plausibility = plausibility;
    if (zone.buf) {
        out.zone_n = (int64_t)(zone.len / 8 - 1) / 2;
        out.zone_at = (const int64_t *)zone.buf;
        out.zone_off = out.zone_at + out.zone_n;
    }
    /* catalogue: a sequence of (code, unit, lo, hi) */
    PyObject *seq = PySequence_Fast(catalogue, "scan: catalogue must be a sequence of (code, unit, lo, hi)");
    if (!seq) {
        PyBuffer_Release(&view);
        PyBuffer_Release(&zone);
        return NULL;
    }
    Py_ssize_t n_cat = PySequence_Fast_GET_SIZE(seq);
    if (n_cat > MAX_CATALOGUE) {
        Py_DECREF(seq);
        PyBuffer_Release(&view);
        PyBuffer_Release(&zone);
        PyErr_SetString(PyExc_ValueError, "scan: catalogue too long");
        return NULL;
    }
    for (Py_ssize_t k = 0; k < n_cat; k++) {
        const char *code, *unit;
        Py_ssize_t code_n, unit_n;
        double lo, hi;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, k), "s#s#dd", &code, &code_n, &unit, &unit_n, &lo, &hi)
            || code_n >= 32 || unit_n >= 32) {
            Py_DECREF(seq);
            PyBuffer_Release(&view);
            PyBuffer_Release(&zone);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "scan: catalogue code or unit too long");
            return NULL;
        }
        Measure *m = &out.cat[k];
        memcpy(m->code, code, (size_t)code_n);
        m->code_n = code_n;
        memcpy(m->unit, unit, (size_t)unit_n);
        m->unit_n = unit_n;
        m->lo = lo;
        m->hi = hi;
    }
    out.n_cat = (int)n_cat;
    Py_DECREF(seq);
    int r = OK;
    for (int i = 0; i < N_LCOL; i++) r |= col_init(&out.l[i]);
    for (int i = 0; i < N_RCOL; i++) r |= col_init(&out.r[i]);
    int64_t reached = start;
    out.last_line = first_line - 1;
    if (!r) {
        Py_BEGIN_ALLOW_THREADS
        r = scan_block(&out, (const char *)view.buf, start, end, first_line, max_lines, naive_ok, &reached);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&view);
    PyBuffer_Release(&zone);
    if (r) {
        out_free(&out);
        return PyErr_NoMemory();
    }
    PyObject *lcols = PyTuple_New(N_LCOL), *rcols = PyTuple_New(N_RCOL);
    if (lcols && rcols) {
        for (int i = 0; i < N_LCOL; i++) PyTuple_SET_ITEM(lcols, i, col_tuple(&out.l[i]));
        for (int i = 0; i < N_RCOL; i++) PyTuple_SET_ITEM(rcols, i, col_tuple(&out.r[i]));
    }
    PyObject *res = NULL;
    if (lcols && rcols && !PyErr_Occurred())
        res = Py_BuildValue("(LLLNNNNNNNNNNNN)", (long long)reached, (long long)out.n_lines, (long long)out.last_line,
                            buf_bytes(&out.line_no), buf_bytes(&out.span), buf_bytes(&out.utc), buf_bytes(&out.naive), buf_bytes(&out.synthetic), buf_bytes(&out.precision), lcols,
                            buf_bytes(&out.row_line), buf_bytes(&out.value), buf_bytes(&out.flags), rcols,
                            buf_bytes(&out.slow));
    else {
        Py_XDECREF(lcols);
        Py_XDECREF(rcols);
    }
    out_free(&out);
    return res;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, start, end, first_line, max_lines, naive_ok, catalogue, plausibility[, zone]) -> (reached, lines, last_line, line_no, span, utc, naive, "
     "synthetic, precision, "
     "line_columns, row_line, value, flags, row_columns, slow)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", "Fast path of the FHIR Observation ingest.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
