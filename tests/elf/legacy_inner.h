/* The program of the legacy_inner_*.c fixtures, after each has defined its maps: the
 * inner map stored under key 1 of `by_service`, its element 0 plus 100, or 0. */
#ifndef LEGACY_INNER_H
#define LEGACY_INNER_H

SEC("xdp")
int pick_backend(struct xdp_md *ctx)
{
    u32 service = 1, slot = 0;
    void *inner = bpf_map_lookup_elem(&by_service, &service);
    if (!inner)
        return 0;
    u64 *value = bpf_map_lookup_elem(inner, &slot);
    if (!value)
        return 0;
    return *value + 100;
}

#endif
