/* cli_data.h — where the CLIs find the Countdown evaluation problems and their models. */
#ifndef SBT_CLI_DATA_H
#define SBT_CLI_DATA_H

#include "selfbt/dataset.h"

/* Split `split` ("val" or "val_new") of data_dir: <split>.jsonl as selfbt-data writes it, else
 * the seed's val_backtrack.json cut in halves (sbt_dataset_seed_val_split); rows need no
 * search_path. NULL after printing "prog: why" on stderr. */
sbt_dataset *cli_load_split(const char *prog, const char *data_dir, const char *split);

/* 1 when path names a folder. */
int cli_is_dir(const char *path);

/* A model argument: a folder (used as it is; *fetched = NULL) or a Hub model id
 * "org/name[@rev]" whose files come from the Hugging Face cache or the Hub (HF_ENDPOINT,
 * HF_TOKEN, HF_HUB_CACHE, HF_HUB_OFFLINE apply; *fetched = its snapshot folder, freed with
 * sbt_hub_path_free). Returns the folder to load, or NULL after printing "prog: --flag arg:
 * why" on stderr. */
const char *cli_model_dir(const char *prog, const char *flag, const char *arg, char **fetched);

#endif /* SBT_CLI_DATA_H */
