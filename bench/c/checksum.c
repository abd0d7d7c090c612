/* RFC 1071 Internet checksum over the whole buffer. */
#include "bench.h"

ENTRY
{
    u64 sum = 0, i = 0;
    for (; i + 2 <= len; i += 2)
        sum += load16(mem + i);
    if (i < len)
        sum += mem[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return ~sum & 0xffff;
}
