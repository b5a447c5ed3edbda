/*
 * types.h - registration of the value types other than strings.
 *
 * Each type module (t_list.c, t_hash.c, t_set.c, t_zset.c) exports a
 * registration function that installs its obj_ops (object.h); types_init
 * calls them all. Every program that loads or prints values (the server,
 * the tools, the fuzz targets, unit tests that checkpoint values) calls it
 * once before anything else. Idempotent.
 *
 * Thread: main, at start-up.
 */
#ifndef LODE_TYPES_H
#define LODE_TYPES_H

void types_init(void);
/* Registration functions of the type modules. */
void zset_register(void);

#endif
