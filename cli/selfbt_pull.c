/* selfbt-pull — download files of a Hugging Face Hub repo (a model, or a dataset with
 * --dataset) into the huggingface_hub cache, which Python shares, and print the local path of
 * each, one a line. With no FILE, every file of the repo. See docs/hub.md.
 *
 *   selfbt-pull ORG/NAME [FILE...] [--revision R] [--dataset] [--cache DIR] [--endpoint URL]
 *               [--offline] [--quiet]
 *
 * The token comes from HF_TOKEN (or the file huggingface-cli login writes), never from the
 * command line, where other users could read it. Exit status: 0; 1 when a download fails
 * (message from sbt_last_error()); 2 on a bad command line; 130 after Ctrl-C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_progress.h"
#include "selfbt/selfbt.h"
#include "selfbt/hub.h"

#define PROG "selfbt-pull"

static int fail(sbt_status st)
{
    fprintf(stderr, PROG ": %s\n", sbt_last_error());
    return st == SBT_E_CANCELLED ? 130 : 1;
}

int main(int argc, char **argv)
{
    const char *revision = "main", *cache = NULL, *endpoint = NULL;
    int dataset = 0, offline = 0, quiet = 0;
    const cli_opt opts[] = {
        {"revision", CLI_STRING, &revision, 0, 0, "R", "branch, tag or commit (default main)"},
        {"dataset", CLI_FLAG, &dataset, 0, 0, NULL, "the repo is a dataset, not a model"},
        {"cache", CLI_STRING, &cache, 0, 0, "DIR", "cache folder (default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)"},
        {"endpoint", CLI_STRING, &endpoint, 0, 0, "URL", "the Hub (default $HF_ENDPOINT or https://huggingface.co)"},
        {"offline", CLI_FLAG, &offline, 0, 0, NULL, "use only the cache, as HF_HUB_OFFLINE=1"},
        {"quiet", CLI_FLAG, &quiet, 0, 0, NULL, "no progress bar"},
    };
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int n_pos = 0;
    if (!pos) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    const cli_spec spec = {PROG,
                           "Download the files (all files of the repo when none are named) into the "
                           "Hugging Face cache and print their paths.",
                           opts, (int)(sizeof opts / sizeof *opts), pos, argc, &n_pos,
                           "ORG/NAME [FILE...]"};
    int rc = cli_parse(&spec, argc, argv);
    if (!rc && n_pos == 0) {
        fprintf(stderr, PROG ": missing the repo (ORG/NAME)\nTry '" PROG " --help' for the list of options.\n");
        rc = 2;
    }
    if (rc) {
        free(pos);
        return rc == 1 ? 0 : rc;
    }
    cli_log_to_stderr(PROG, SBT_LOG_WARN);
    cli_progress bar;
    cli_progress_init(&bar, !quiet);
    sbt_hub_options o;
    sbt_hub_options_init(&o);
    o.cache_dir = cache;
    o.endpoint = endpoint;
    if (offline)
        o.offline = 1;
    o.progress = cli_progress_cb;
    o.progress_user_data = &bar;
    sbt_hub_repo_type type = dataset ? SBT_HUB_DATASET : SBT_HUB_MODEL;
    sbt_hub *hub = NULL;
    char **all = NULL, commit[SBT_HUB_COMMIT_SIZE];
    sbt_status st = sbt_hub_create(&hub, &o);
    if (st == SBT_OK && !pos[1]) {
        /* every file, all at the one commit the revision is at now */
        st = sbt_hub_list_files(&all, commit, hub, pos[0], type, revision);
        revision = commit;
    }
    char **files = all ? all : (char **)(pos + 1);
    for (size_t k = 0; st == SBT_OK && files[k]; k++) {
        char *path = NULL;
        st = sbt_hub_download(&path, hub, pos[0], type, revision, files[k]);
        cli_progress_end(&bar);
        if (st == SBT_OK)
            printf("%s\n", path);
        sbt_hub_path_free(path);
    }
    rc = st == SBT_OK ? 0 : fail(st);
    sbt_hub_files_free(all);
    sbt_hub_free(hub);
    free(pos);
    return rc;
}
