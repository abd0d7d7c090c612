/* rule_scan.c built for clang's oldest CPU, v1 (clang's default CPU before LLVM 20,
 * how aws-network-policy-agent is built): the offset's test is on a copy zero-extended
 * by shifts (`r4 <<= 32; r4 >>= 32; if r4 != 288`).  The same table and results. */
#include "bpf_defs.h"

struct port_rule {
    u32 protocol;
    u32 start_port;
    u32 end_port;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct port_rule[24]);
} port_rules SEC(".maps");

SEC("xdp")
int match_port_v1(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    u32 zero = 0, port, proto;
    struct port_rule *rule;

    if (data + 8 > data_end)
        return 0;
    port = *(u32 *)data;
    proto = *(u32 *)(data + 4);
    rule = bpf_map_lookup_elem(&port_rules, &zero);
    if (!rule)
        return 1;
    for (int i = 0; i < 24; i++, rule++) {
        if (rule->protocol == 255)
            return 1;
        if (rule->protocol != 254 && rule->protocol != proto)
            continue;
        if (rule->start_port == 0 || rule->start_port == port)
            return 2;
        if (port > rule->start_port && port < rule->end_port)
            return 3;
    }
    return 1;
}

char LICENSE[] SEC("license") = "GPL";
