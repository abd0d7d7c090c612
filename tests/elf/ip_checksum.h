/* The Internet checksum (RFC 1071) in a header, so that ip_checksum.o's line
 * information names two files (the explorer's C column shows one tab per file). */
#ifndef IP_CHECKSUM_H
#define IP_CHECKSUM_H

static __attribute__((always_inline)) u16 fold_sum(const u16 *words, int count)
{
    u32 sum = 0;
    for (int i = 0; i < count; i++)
        sum += words[i];
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (u16)~sum;
}

#endif
