/* A socket-level load balancer, as cgroup sock_addr programs make one: connect4 (TCP)
 * and sendmsg4 (UDP) turn a service's address and port into a backend's, found in the
 * `backends` map, and remember the service by the socket's cookie; recvmsg4 shows
 * the service again as the sender of what the backend answers.  connect6 refuses
 * telnet (port 23) to 2001:db8::/32.  Every program lets the call through (1) except
 * connect6's refusal (0). */
#include "bpf_defs.h"

#define IPPROTO_TCP 6
#define SOCK_DGRAM 2

struct service {
    u32 ip;      /* network byte order */
    u32 port;    /* network byte order, in the low 16 bits */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct service);
    __type(value, struct service);
} backends SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, u64);
    __type(value, struct service);
} origins SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} last_netns SEC(".maps");

static __attribute__((always_inline)) void translate(struct bpf_sock_addr *ctx)
{
    struct service key = { ctx->user_ip4, ctx->user_port };
    struct service *backend = bpf_map_lookup_elem(&backends, &key);
    if (!backend)
        return;
    u64 cookie = bpf_get_socket_cookie(ctx);
    bpf_map_update_elem(&origins, &cookie, &key, BPF_ANY);
    ctx->user_ip4 = backend->ip;
    ctx->user_port = backend->port;
}

SEC("cgroup/connect4")
int lb_connect4(struct bpf_sock_addr *ctx)
{
    u32 zero = 0;
    u64 netns = bpf_get_netns_cookie(ctx);
    bpf_map_update_elem(&last_netns, &zero, &netns, BPF_ANY);
    if (ctx->protocol == IPPROTO_TCP)
        translate(ctx);
    return 1;
}

SEC("cgroup/sendmsg4")
int lb_sendmsg4(struct bpf_sock_addr *ctx)
{
    if (ctx->type == SOCK_DGRAM)
        translate(ctx);
    return 1;
}

SEC("cgroup/recvmsg4")
int lb_recvmsg4(struct bpf_sock_addr *ctx)
{
    u64 cookie = bpf_get_socket_cookie(ctx);
    struct service *origin = bpf_map_lookup_elem(&origins, &cookie);
    if (origin) {
        ctx->user_ip4 = origin->ip;
        ctx->user_port = origin->port;
    }
    return 1;
}

SEC("cgroup/connect6")
int no_telnet6(struct bpf_sock_addr *ctx)
{
    if (ctx->user_port == htons(23) && ctx->user_ip6[0] == htonl(0x20010db8))
        return 0;
    return 1;
}

char _license[] SEC("license") = "GPL";
