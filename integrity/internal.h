/*
 * What the files of integrity/ share:
 *   scrub.c   `scrub`: stored bytes re-read and compared, alerts recorded
 *   alerts.c  `alerts list|show|push`
 *   verify.c  `verify URI...`, the check before a pipeline loads an artifact
 */
#ifndef AW_INTEGRITY_INTERNAL_H
#define AW_INTEGRITY_INTERNAL_H

#include "aw/config.h"
#include "aw/daemon.h"
#include "aw/pg.h"

#endif
