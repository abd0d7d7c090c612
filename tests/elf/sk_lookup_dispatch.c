/* An sk_lookup program that serves many ports from a few sockets, as a dispatcher
 * in front of services does: `bindings` maps (protocol, local port) to a service,
 * `services` (a sockmap) holds each service's socket.
 *
 *   dispatch  no binding: SK_PASS (the kernel's own lookup decides).  A binding whose
 *             service has no socket: SK_DROP, `counts[1]` += 1.  Else the service's
 *             socket is picked (bpf_sk_assign with `assign_flags`, .bss): picked,
 *             SK_PASS, `counts[0]` += 1, and `last_port` = the picked socket's port
 *             as ctx->sk shows it; refused, SK_DROP and `last_error` = the error.
 *             With `second` set (.bss), the socket of service `second - 1` is then
 *             assigned too, with `second_flags`, its result in `second_error`.
 */
#include "bpf_defs.h"

struct bpf_sk_lookup {
    u64 sk;
    u32 family;
    u32 protocol;
    u32 remote_ip4;
    u32 remote_ip6[4];
    u16 remote_port;
    u16 pad;
    u32 local_ip4;
    u32 local_ip6[4];
    u32 local_port;
    u32 ingress_ifindex;
};

struct binding_key {
    u32 protocol;
    u32 port;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct binding_key);
    __type(value, u32);
} bindings SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_SOCKMAP);
    __uint(max_entries, 4);
    __type(key, u32);
    __type(value, u64);
} services SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, u32);
    __type(value, u64);
} counts SEC(".maps");

u64 assign_flags = 0;
u32 second = 0;
u64 second_flags = 0;
s64 last_error = 0;
s64 second_error = 0;
u32 last_port = 0;

static void count(u32 which)
{
    u64 *n = bpf_map_lookup_elem(&counts, &which);
    if (n)
        __sync_fetch_and_add(n, 1);
}

SEC("sk_lookup")
int dispatch(struct bpf_sk_lookup *ctx)
{
    struct binding_key key = {ctx->protocol, ctx->local_port};
    u32 *service = bpf_map_lookup_elem(&bindings, &key);
    struct bpf_sock *sk, *picked;
    long err;

    if (!service)
        return SK_PASS;
    sk = bpf_map_lookup_elem(&services, service);
    if (!sk) {
        count(1);
        return SK_DROP;
    }
    err = bpf_sk_assign(ctx, sk, assign_flags);
    bpf_sk_release(sk);
    if (err) {
        last_error = err;
        return SK_DROP;
    }
    count(0);
    picked = (struct bpf_sock *)ctx->sk;
    if (picked)
        last_port = picked->src_port;
    if (second) {
        u32 index = second - 1;
        struct bpf_sock *other = bpf_map_lookup_elem(&services, &index);

        if (other) {
            second_error = bpf_sk_assign(ctx, other, second_flags);
            bpf_sk_release(other);
        }
    }
    return SK_PASS;
}

char _license[] SEC("license") = "GPL";
