/* improve_internal.h — internal: what the self-improvement files share. */
#ifndef SBTI_TRAIN_IMPROVE_INTERNAL_H
#define SBTI_TRAIN_IMPROVE_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

#include "selfbt/improve.h"

/* A JSON number, or null for NaN / infinity. */
json_t *sbti_improve_num(double x);
/* obj[key] as a number (NaN if absent or null) / an integer (0 if absent). */
double sbti_improve_get_num(const json_t *obj, const char *key);
int64_t sbti_improve_get_int(const json_t *obj, const char *key);

/* Writes {"format", "version", "config", "iterations": entries} to path atomically. */
sbt_status sbti_improve_report_write(const char *path, json_t *config, json_t *entries);

/* Reads path's iterations into *entries (a new reference; NULL when the file does not exist).
 * The report's config must equal config except for "times": SBT_E_INVALID_ARGUMENT naming the
 * first setting that differs otherwise. */
sbt_status sbti_improve_report_read(const char *path, const json_t *config, json_t **entries);

#endif /* SBTI_TRAIN_IMPROVE_INTERNAL_H */
