/*
 * types.c - registers every value type's hooks (see types.h).
 */
#include "engine/types.h"
#include "engine/t_hash.h"

void types_init(void)
{
    /* one call per type module, added as each type lands */
    hash_register();
}
