/*
 * record.c - WAL record codec (layout in record.h, normative text in
 * docs/wal-format.md).
 */
#include "wal/record.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/crc32c.h"
#include "wal/endian.h"

#include <lz4.h>
#include <string.h>

void wal_append_command(struct buf *cmds, int argc, const char *const *argv, const size_t *lens)
{
    buf_printf(cmds, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        buf_printf(cmds, "$%zu\r\n", lens[i]);
        buf_append(cmds, argv[i], lens[i]);
        buf_append(cmds, "\r\n", 2);
    }
}

void wal_record_encode(struct buf *out, uint64_t lsn, uint64_t time_ms, uint32_t db, uint32_t ncmds,
                       const char *cmds, size_t cmds_len)
{
    size_t raw_len = 8 + cmds_len;
    lode_assert(raw_len <= WAL_MAX_PAYLOAD);
    size_t start = out->len;
    uint16_t flags = 0;
    size_t stored = raw_len;
    if (raw_len >= WAL_LZ4_THRESHOLD && raw_len < (size_t)LZ4_MAX_INPUT_SIZE) {
        /* compress into place after the header; keep it only if smaller */
        struct buf raw = BUF_INIT;
        uint8_t pre[8];
        le_put32(pre, db);
        le_put32(pre + 4, ncmds);
        buf_append(&raw, pre, 8);
        buf_append(&raw, cmds, cmds_len);
        int bound = LZ4_compressBound((int)raw_len);
        uint8_t *w = (uint8_t *)buf_reserve(out, WAL_REC_HEADER + (size_t)bound);
        int n = LZ4_compress_default(raw.ptr, (char *)w + WAL_REC_HEADER, (int)raw_len, bound);
        buf_release(&raw);
        if (n > 0 && (size_t)n < raw_len) {
            flags = WAL_FLAG_LZ4;
            stored = (size_t)n;
        }
    }
    uint8_t *w = (uint8_t *)buf_reserve(out, WAL_REC_HEADER + stored);
    if (!flags) {
        le_put32(w + WAL_REC_HEADER, db);
        le_put32(w + WAL_REC_HEADER + 4, ncmds);
        memcpy(w + WAL_REC_HEADER + 8, cmds, cmds_len);
    }
    size_t total = WAL_REC_HEADER + stored;
    le_put32(w, (uint32_t)total);
    le_put64(w + 8, lsn);
    le_put64(w + 16, time_ms);
    w[24] = (uint8_t)flags;
    w[25] = (uint8_t)(flags >> 8);
    w[26] = w[27] = 0;
    le_put32(w + 28, (uint32_t)raw_len);
    le_put32(w + 4, crc32c(0, w + 8, total - 8));
    out->len = start + total;
    out->ptr[out->len] = '\0';
}

int wal_record_decode(const uint8_t *p, size_t avail, struct wal_record *rec, size_t *used,
                      struct buf *scratch, const char **why)
{
    /* fewer than 4 bytes left: no record fits (the smallest is 40 bytes and
     * a record never spans segments), so this is the end of the log */
    if (avail < 4) return WAL_DEC_END;
    uint32_t total = le_get32(p);
    if (total == 0) return WAL_DEC_END;
    if (total < WAL_REC_HEADER + 8 || total - WAL_REC_HEADER > WAL_MAX_PAYLOAD) {
        *why = "record length out of range";
        return WAL_DEC_CORRUPT;
    }
    if (avail < total) return WAL_DEC_TORN;
    if (crc32c(0, p + 8, total - 8) != le_get32(p + 4)) {
        *why = "checksum mismatch";
        return WAL_DEC_CORRUPT;
    }
    uint16_t flags = (uint16_t)(p[24] | p[25] << 8);
    if ((flags & ~WAL_FLAGS_KNOWN) || p[26] || p[27]) {
        *why = "unknown flags or reserved bits set";
        return WAL_DEC_CORRUPT;
    }
    uint32_t raw_len = le_get32(p + 28);
    size_t stored = total - WAL_REC_HEADER;
    const uint8_t *payload = p + WAL_REC_HEADER;
    if (raw_len < 8 || raw_len > WAL_MAX_PAYLOAD) {
        *why = "payload length out of range";
        return WAL_DEC_CORRUPT;
    }
    if (flags & WAL_FLAG_LZ4) {
        /* LZ4 expands at most about 255:1; a bigger claim is a lie that
         * would make us allocate up to 1 GiB for a 40-byte record */
        if ((uint64_t)raw_len > (uint64_t)stored * 255 + 64) {
            *why = "compressed payload claims an impossible length";
            return WAL_DEC_CORRUPT;
        }
        scratch->len = 0;
        char *w = buf_reserve(scratch, raw_len);
        int n = LZ4_decompress_safe((const char *)payload, w, (int)stored, (int)raw_len);
        if (n < 0 || (uint32_t)n != raw_len) {
            *why = "compressed payload does not decompress";
            return WAL_DEC_CORRUPT;
        }
        scratch->len = raw_len;
        payload = (const uint8_t *)scratch->ptr;
    } else if (stored != raw_len) {
        *why = "payload length mismatch";
        return WAL_DEC_CORRUPT;
    }
    rec->lsn = le_get64(p + 8);
    rec->time_ms = le_get64(p + 16);
    rec->db = le_get32(payload);
    rec->ncmds = le_get32(payload + 4);
    if (rec->ncmds == 0) {
        *why = "record holds no command";
        return WAL_DEC_CORRUPT;
    }
    rec->cmds = (const char *)payload + 8;
    rec->cmds_len = raw_len - 8;
    /* every command must parse, and their number must match */
    size_t off = 0;
    uint32_t n = 0;
    for (;;) {
        int argc = wal_next_command(rec, &off, NULL, NULL, 0);
        if (argc == 0) break;
        if (argc < 0) {
            *why = "malformed command in payload";
            return WAL_DEC_CORRUPT;
        }
        /* skip it: re-walk with the count known */
        size_t save = off;
        if (wal_next_command(rec, &save, NULL, NULL, -1) < 0) {
            *why = "malformed command in payload";
            return WAL_DEC_CORRUPT;
        }
        off = save;
        n++;
    }
    if (n != rec->ncmds) {
        *why = "command count mismatch";
        return WAL_DEC_CORRUPT;
    }
    *used = total;
    return WAL_DEC_OK;
}

/* Reads "<c><digits>\r\n" at *pos within [0, len): returns the number or -1. */
static long long read_len(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos >= len || s[*pos] != c) return -1;
    size_t i = *pos + 1, start = i;
    while (i < len && s[i] != '\r') i++;
    if (i + 1 >= len || s[i + 1] != '\n') return -1;
    long long v;
    if (!util_str2ll(s + start, i - start, &v) || v < 0) return -1;
    *pos = i + 2;
    return v;
}

int wal_next_command(const struct wal_record *rec, size_t *off, const char **argv, size_t *lens,
                     int cap)
{
    const char *s = rec->cmds;
    size_t len = rec->cmds_len, pos = *off;
    if (pos == len) return 0;
    long long argc = read_len(s, len, &pos, '*');
    if (argc <= 0 || argc > (long long)(len - pos) / 4 + 1) return -1;
    bool fill = cap < 0 || argc <= cap;
    for (long long i = 0; i < argc; i++) {
        long long n = read_len(s, len, &pos, '$');
        if (n < 0 || (size_t)n > len - pos || len - pos - (size_t)n < 2) return -1;
        if (fill && cap > 0) {
            argv[i] = s + pos;
            lens[i] = (size_t)n;
        }
        pos += (size_t)n;
        if (s[pos] != '\r' || s[pos + 1] != '\n') return -1;
        pos += 2;
    }
    if (fill) *off = pos;
    return (int)argc;
}
