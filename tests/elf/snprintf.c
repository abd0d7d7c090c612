/* bpf_snprintf as programs log with it, written for bpfjit's tests: an XDP program
 * formats fields of the packet into a global buffer (the kernel lets no helper but a
 * few write into the packet).
 *
 * The packet: a u32 `count` (bytes 0-3), a u32 `delta` (4-7, read as signed), an IPv4
 * address (8-11), a flag byte (12); the text goes to `text` (.bss), at most 64 bytes
 * with its NUL.  r0 = bpf_snprintf's result: the whole text's length + 1.  A packet
 * shorter than 16 bytes gives r0 = 0.
 */
#include "bpf_defs.h"

static const char fmt[] = "n=%u d=%d %08x ip=%pI4/%pi4 %c %s%%";
static const char yes[] = "on", no[] = "off";
char text[64];

SEC("xdp")
int format_packet(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    u32 *words = data;
    u8 *flags = data + 12;
    u64 args[7];

    if (data + 16 > end)
        return 0;
    args[0] = words[0];
    args[1] = (s64)(s32)words[1];
    args[2] = words[0];
    args[3] = (u64)(long)(data + 8);
    args[4] = (u64)(long)(data + 8);
    args[5] = 'A' + (*flags & 15);
    args[6] = (u64)(long)(*flags & 0x80 ? yes : no);
    return bpf_snprintf(text, sizeof(text), fmt, args, sizeof(args));
}

char LICENSE[] SEC("license") = "GPL";
