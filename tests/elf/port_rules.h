/* The port rules rule_scan.c and rule_count_v1.c match: 24 rules of 12 bytes in one
 * array map value (a size no power of two). */
#ifndef PORT_RULES_H
#define PORT_RULES_H

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

#endif
