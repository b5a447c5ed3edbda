/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of WAL records, segment headers and FUNCTION DUMP payloads.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time), a slicing-by-8 table otherwise. Both give identical results.
 * Thread: any. Never allocates.
 */
#ifndef LODE_CRC32C_H
#define LODE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 for a fresh checksum) over n bytes. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
