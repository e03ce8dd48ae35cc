/* cli_data.c — the evaluation splits of a data folder, for selfbt-eval and selfbt-improve. */
#include "cli_data.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "selfbt/hub.h"

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

sbt_dataset *cli_load_split(const char *prog, const char *data_dir, const char *split)
{
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    o.require_search_path = 0;
    sbt_dataset *ds = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.jsonl", data_dir, split);
    if (file_exists(path)) {
        if (sbt_dataset_load(&ds, path, &o) != SBT_OK) {
            fprintf(stderr, "%s: %s\n", prog, sbt_last_error());
            return NULL;
        }
        return ds;
    }
    snprintf(path, sizeof path, "%s/val_backtrack.json", data_dir);
    if (!file_exists(path)) {
        fprintf(stderr, "%s: --data_dir %s: neither %s.jsonl nor val_backtrack.json is there "
                "(make them with selfbt-data, or set --data_dir)\n", prog, data_dir, split);
        return NULL;
    }
    sbt_dataset *all = NULL, *val = NULL, *val_new = NULL;
    if (sbt_dataset_load(&all, path, &o) != SBT_OK ||
        sbt_dataset_seed_val_split(&val, &val_new, all) != SBT_OK) {
        fprintf(stderr, "%s: %s\n", prog, sbt_last_error());
        sbt_dataset_free(all);
        return NULL;
    }
    sbt_dataset_free(all);
    if (strcmp(split, "val") == 0) {
        sbt_dataset_free(val_new);
        return val;
    }
    sbt_dataset_free(val);
    return val_new;
}

int cli_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_model_dir(const char *prog, const char *flag, const char *arg, char **fetched)
{
    *fetched = NULL;
    if (cli_is_dir(arg)) /* no Hub handle needed */
        return arg;
    sbt_hub *hub = NULL;
    sbt_status st = sbt_hub_create(&hub, NULL);
    if (st == SBT_OK)
        st = sbt_hub_resolve_path(fetched, hub, arg, SBT_HUB_MODEL, NULL);
    sbt_hub_free(hub);
    if (st != SBT_OK) {
        fprintf(stderr, "%s: --%s %s is not a folder, and as a Hub model id: %s\n", prog, flag,
                arg, sbt_last_error());
        return NULL;
    }
    return *fetched;
}
