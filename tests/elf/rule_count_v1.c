/* The port rules of rule_scan.c, matched in another order, built for clang's oldest
 * CPU, v1: clang keeps the `int` counter, moves it on (`r1 = r3 + 1`) before it
 * zero-extends the old count by shifts (`r3 <<= 32; r5 = r3; r5 >>= 32`) and compares
 * that with a register holding 23 (`if r2 > r5`), while the rule pointer steps by 12.
 * The packet's first 8 bytes hold the port and the protocol (host order).  Returns 2
 * for a rule (protocol 254: any) whose start port is 0 or the port, 3 when the port
 * lies strictly between start and end, 1 otherwise or at a rule of protocol 255. */
#include "bpf_defs.h"
#include "port_rules.h"

SEC("xdp")
int count_rules(struct xdp_md *ctx)
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
        if (rule->protocol == 254 || rule->protocol == proto) {
            if (rule->start_port == 0 || rule->start_port == port)
                return 2;
            if (port > rule->start_port && port < rule->end_port)
                return 3;
        }
        if (rule->protocol == 255)
            break;
    }
    return 1;
}

char LICENSE[] SEC("license") = "GPL";
