/* A first-match scan over a table of 24 port rules, 12 bytes each, in one array map
 * value: clang steps a pointer by 12 and ends the loop when its offset `!= 288` fails
 * (aws-network-policy-agent's tc programs scan their LPM values so).  The packet's
 * first 8 bytes hold the port and the protocol (host order).  Returns 1 when no rule
 * matches (or rule.protocol 255 ends the table), 2 for a rule whose start port is 0 or
 * the port, 3 when the port lies strictly between start and end; protocol 254 matches
 * any.  The kernel proves the scan by walking its 24 trips; bpfjit by knowing the
 * offset is a multiple of 12. */
#include "bpf_defs.h"
#include "port_rules.h"

SEC("xdp")
int match_port(struct xdp_md *ctx)
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
