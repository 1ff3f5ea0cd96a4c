/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32 (IEEE 802.3: polynomial 0x04C11DB7, reflected as 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF), as used by zlib, PNG and
 * Ethernet.  Used by the trace format (trace.h) to detect corruption.
 */
#ifndef BARLAB_CRC32_H
#define BARLAB_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Return the CRC-32 of the bytes seen so far (@crc, 0 for none) followed by
 * @len bytes at @buf.  Chains like zlib's crc32():
 * mt_crc32(mt_crc32(0, a, n), b, m) is the CRC of a followed by b.
 * mt_crc32(0, "123456789", 9) == 0xCBF43926.
 */
uint32_t mt_crc32(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BARLAB_CRC32_H */
