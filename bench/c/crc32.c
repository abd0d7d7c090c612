/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) computed bit by bit,
 * without a table: eight shift-and-conditional-xor steps per byte. */
#include "bench.h"

ENTRY
{
    u32 crc = 0xffffffffu;
    for (u64 i = 0; i < len; i++) {
        crc ^= mem[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}
