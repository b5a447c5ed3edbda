/*
 * fdump.c - the FUNCTION DUMP payload codec (see fdump.h).
 *
 * Layout (docs/functions-format.md), all integers little-endian:
 *   0   8  magic "LODEFUNC"
 *   8   2  u16 version, 1
 *   10  2  u16 reserved, 0
 *   12  4  u32 library count N
 *   16  .. N times: u32 name length, name, u32 code length, code
 *   end-4 4 u32 CRC-32C (Castagnoli) of every byte before it
 */
#include "engine/fdump.h"
#include "engine/crc32c.h"
#include "engine/lode.h"

#include <string.h>

static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, (const char *)x, 4);
}

static uint32_t get_u32(const char *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void fdump_encode(struct buf *out, int n, const struct fdump_lib *libs)
{
    size_t start = out->len;
    buf_append(out, FDUMP_MAGIC, FDUMP_MAGIC_LEN);
    uint8_t ver[4] = {FDUMP_VERSION, 0, 0, 0}; /* version, reserved */
    buf_append(out, (const char *)ver, 4);
    put_u32(out, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        put_u32(out, (uint32_t)libs[i].name_len);
        buf_append(out, libs[i].name, libs[i].name_len);
        put_u32(out, (uint32_t)libs[i].code_len);
        buf_append(out, libs[i].code, libs[i].code_len);
    }
    put_u32(out, crc32c(0, out->ptr + start, out->len - start));
}

/* Reads one length-prefixed field at *off, bounded by end. */
static int get_field(const char *p, size_t end, size_t *off, const char **s, size_t *len)
{
    if (end - *off < 4) return -1;
    uint32_t l = get_u32(p + *off);
    *off += 4;
    if (l > end - *off) return -1;
    *s = p + *off;
    *len = l;
    *off += l;
    return 0;
}

int fdump_decode(const char *p, size_t n, struct fdump_lib **libs, int *nlibs)
{
    *libs = NULL;
    *nlibs = 0;
    if (n < FDUMP_MIN_LEN || memcmp(p, FDUMP_MAGIC, FDUMP_MAGIC_LEN) != 0) return -1;
    const uint8_t *h = (const uint8_t *)p + FDUMP_MAGIC_LEN;
    if ((h[0] | h[1] << 8) != FDUMP_VERSION || (h[2] | h[3]) != 0) return -1;
    size_t end = n - 4;
    if (crc32c(0, p, end) != get_u32(p + end)) return -1;
    uint32_t count = get_u32(p + FDUMP_MAGIC_LEN + 4);
    /* each library takes at least 8 bytes: bounds the allocation */
    if (count > (end - FDUMP_HEADER_LEN) / 8) return -1;
    struct fdump_lib *out = count ? lode_malloc(sizeof(*out) * count) : NULL;
    size_t off = FDUMP_HEADER_LEN;
    for (uint32_t i = 0; i < count; i++) {
        if (get_field(p, end, &off, &out[i].name, &out[i].name_len) != 0 ||
            get_field(p, end, &off, &out[i].code, &out[i].code_len) != 0) {
            lode_free(out);
            return -1;
        }
    }
    if (off != end) {
        lode_free(out);
        return -1;
    }
    *libs = out;
    *nlibs = (int)count;
    return 0;
}
