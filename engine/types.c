/*
 * types.c - registers every value type's hooks (see types.h).
 */
#include "engine/types.h"
#include "engine/t_hash.h"
#include "engine/t_set.h"

void types_init(void)
{
    list_register();
    set_register();
    zset_register();
    hash_register();
}
