/* improve_report.c — the self-improvement report (output_dir/report.json): the run's settings
 * and one entry per finished iteration, rewritten atomically; read back to resume. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "train/improve_internal.h"

#define REPORT_FORMAT "libselfbt-improve-report"
#define REPORT_VERSION 1

json_t *sbti_improve_num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

double sbti_improve_get_num(const json_t *obj, const char *key)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int64_t sbti_improve_get_int(const json_t *obj, const char *key)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

sbt_status sbti_improve_report_write(const char *path, json_t *config, json_t *entries)
{
    json_t *root = json_object();
    if (!root)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    json_object_set_new(root, "format", json_string(REPORT_FORMAT));
    json_object_set_new(root, "version", json_integer(REPORT_VERSION));
    json_object_set(root, "config", config);
    json_object_set(root, "iterations", entries);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!text)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    if (st == SBT_OK) {
        if (fputs(text, f.fp) < 0 || fputc('\n', f.fp) == EOF) {
            int e = errno;
            sbti_atomic_abort(&f);
            st = sbti_fail(SBT_E_IO, "cannot write %s: %s", path, strerror(e));
        } else {
            st = sbti_atomic_commit(&f);
        }
    }
    free(text);
    return st;
}

/* The first key whose value differs between a and b (both objects), or NULL. */
static const char *first_difference(const json_t *a, const json_t *b)
{
    const char *key;
    const json_t *va;
    json_object_foreach((json_t *)a, key, va) {
        if (strcmp(key, "times") == 0)
            continue;
        const json_t *vb = json_object_get(b, key);
        if (!vb || !json_equal(va, vb))
            return key;
    }
    json_object_foreach((json_t *)b, key, va) {
        if (strcmp(key, "times") != 0 && !json_object_get(a, key))
            return key;
    }
    return NULL;
}

sbt_status sbti_improve_report_read(const char *path, const json_t *config, json_t **entries)
{
    *entries = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT)
            return SBT_OK;
        return sbti_fail(SBT_E_IO, "cannot open %s: %s", path, strerror(errno));
    }
    json_error_t jerr;
    json_t *root = json_loadf(fp, 0, &jerr);
    fclose(fp);
    if (!root)
        return sbti_fail(SBT_E_PARSE, "%s:%d: %s", path, jerr.line, jerr.text);
    sbt_status st = SBT_OK;
    const json_t *fmt = json_object_get(root, "format");
    const json_t *cfg = json_object_get(root, "config");
    json_t *its = json_object_get(root, "iterations");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), REPORT_FORMAT) != 0 ||
        sbti_improve_get_int(root, "version") != REPORT_VERSION) {
        st = sbti_fail(SBT_E_PARSE, "%s: not a libselfbt self-improvement report (format %s, "
                       "version %d expected)", path, REPORT_FORMAT, REPORT_VERSION);
    } else if (!json_is_object(cfg) || !json_is_array(its)) {
        st = sbti_fail(SBT_E_PARSE, "%s: \"config\" or \"iterations\" is missing", path);
    } else {
        const char *diff = first_difference(config, cfg);
        if (diff) {
            char *want = json_dumps(json_object_get(config, diff), JSON_ENCODE_ANY);
            char *have = json_dumps(json_object_get(cfg, diff), JSON_ENCODE_ANY);
            st = sbti_fail(SBT_E_INVALID_ARGUMENT,
                           "%s holds a run with other settings: \"%s\" is %s there, %s now "
                           "(use another output folder, or the same settings to resume)",
                           path, diff, have ? have : "absent", want ? want : "absent");
            free(want);
            free(have);
        } else {
            size_t i;
            json_t *e;
            json_array_foreach(its, i, e) {
                if (!json_is_object(e) || sbti_improve_get_int(e, "iteration") != (int64_t)i) {
                    st = sbti_fail(SBT_E_PARSE, "%s: iterations[%zu] is not iteration %zu", path,
                                   i, i);
                    break;
                }
            }
        }
    }
    if (st == SBT_OK)
        *entries = json_incref(its);
    json_decref(root);
    return st;
}
