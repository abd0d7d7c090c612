/* cgroup sockopt programs of a transparent proxy's sidecar, written for bpfjit's tests.
 *
 * getsockopt: a proxy that accepted a redirected connection asks the kernel for the
 * destination the client meant (SOL_IP, SO_ORIGINAL_DST); the answer is looked up in
 * `originals` by the accepted socket's remote end (sk->dst_ip4, sk->dst_port) and
 * written as a struct sockaddr_in, with optlen and retval set to say it succeeded.
 * Other options pass untouched.
 *
 * setsockopt: SO_MARK values above 0xff are refused (EPERM: the proxy's marks are its
 * own); SO_RCVBUFFORCE becomes SO_RCVBUF, which needs no privilege; the rest goes on.
 */
#include "bpf_defs.h"

#define SOL_SOCKET 1
#define SOL_IP 0
#define SO_RCVBUF 8
#define SO_RCVBUFFORCE 33
#define SO_MARK 36
#define SO_ORIGINAL_DST 80
#define AF_INET 2

struct endpoint {
    u32 addr;           /* network byte order */
    u32 port;           /* network byte order, in the low half */
};

struct sockaddr_in {
    u16 sin_family;
    u16 sin_port;
    u32 sin_addr;
    u8 zero[8];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct endpoint);
    __type(value, struct endpoint);
} originals SEC(".maps");

SEC("cgroup/getsockopt")
int original_dst(struct bpf_sockopt *ctx)
{
    struct bpf_sock *sk = (struct bpf_sock *)(long)ctx->sk;
    struct sockaddr_in *sa = (struct sockaddr_in *)(long)ctx->optval;
    struct endpoint key = {}, *dest;

    if (ctx->level != SOL_IP || ctx->optname != SO_ORIGINAL_DST)
        return 1;
    if (sk->family != AF_INET)
        return 1;
    key.addr = sk->dst_ip4;
    key.port = sk->dst_port;
    dest = bpf_map_lookup_elem(&originals, &key);
    if (!dest)
        return 1;
    if ((void *)(sa + 1) > (void *)(long)ctx->optval_end)
        return 1;
    /* each field stored alone: the kernel takes 4-byte stores only, and clang would
     * merge two neighbours into one 8-byte store */
    ctx->retval = 0;
    sa->sin_family = AF_INET;
    sa->sin_port = dest->port;
    sa->sin_addr = dest->addr;
    __builtin_memset(sa->zero, 0, sizeof(sa->zero));
    ctx->optlen = sizeof(*sa);
    return 1;
}

SEC("cgroup/setsockopt")
int own_marks(struct bpf_sockopt *ctx)
{
    u32 *value = (u32 *)(long)ctx->optval;

    if (ctx->level != SOL_SOCKET)
        return 1;
    if (ctx->optname == SO_RCVBUFFORCE) {
        ctx->optname = SO_RCVBUF;
        return 1;
    }
    if (ctx->optname != SO_MARK)
        return 1;
    if ((void *)(value + 1) > (void *)(long)ctx->optval_end)
        return 0;
    return *value <= 0xff;
}

char LICENSE[] SEC("license") = "GPL";
