/* A socket filter in the classic style: legacy packet loads (ldabs/ldind, through
 * clang's llvm.bpf.load.* builtins) that keep SSH over IPv4 (TCP port 22, either
 * direction) whole and drop everything else.  A frame too short for a load ends the
 * program with 0: dropped. */
#include "bpf_defs.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

SEC("socket")
int ssh_only(struct __sk_buff *skb)
{
    if (load_half(skb, 12) != ETH_P_IP)
        return 0;
    if (load_byte(skb, 14 + 9) != IPPROTO_TCP)
        return 0;
    u32 ports_at = 14 + (load_byte(skb, 14) & 0xF) * 4;
    u32 ports = load_word(skb, ports_at);          /* source port << 16 | dest port */
    if ((ports >> 16) == 22 || (ports & 0xFFFF) == 22)
        return -1;                                 /* keep the whole packet */
    return 0;
}
