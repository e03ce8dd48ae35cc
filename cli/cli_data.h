/* cli_data.h — where the CLIs find the Countdown evaluation problems. */
#ifndef SBT_CLI_DATA_H
#define SBT_CLI_DATA_H

#include "selfbt/dataset.h"

/* Split `split` ("val" or "val_new") of data_dir: <split>.jsonl as selfbt-data writes it, else
 * the seed's val_backtrack.json cut in halves (sbt_dataset_seed_val_split); rows need no
 * search_path. NULL after printing "prog: why" on stderr. */
sbt_dataset *cli_load_split(const char *prog, const char *data_dir, const char *split);

#endif /* SBT_CLI_DATA_H */
