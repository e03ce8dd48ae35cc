/* selfbt.h — umbrella header: the whole public API of libselfbt. */
#ifndef SELFBT_SELFBT_H
#define SELFBT_SELFBT_H

#include "selfbt/export.h"
#include "selfbt/version.h"
#include "selfbt/status.h"
#include "selfbt/log.h"
#include "selfbt/progress.h"
#include "selfbt/countdown.h"
#include "selfbt/tokenizer.h"
#include "selfbt/hub.h"
#include "selfbt/backend.h"
#include "selfbt/model.h"
#include "selfbt/dataset.h"
#include "selfbt/trainer.h"
#include "selfbt/decoder.h"
#include "selfbt/improve.h"

#endif /* SELFBT_SELFBT_H */
