/* A socket policy, as cgroup sock programs make one: creating a raw socket is refused,
 * UDP sockets are marked 0x53 and bound to device 4; binding an IPv4 socket to a port
 * below 1024 other than 22 is refused after the fact (post_bind4); every released
 * socket is counted by its cookie's low byte. */
#include "bpf_defs.h"

#define SOCK_DGRAM 2
#define SOCK_RAW 3

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, u32);
    __type(value, u64);
} released SEC(".maps");

SEC("cgroup/sock_create")
int create(struct bpf_sock *sk)
{
    if (sk->type == SOCK_RAW)
        return 0;
    if (sk->type == SOCK_DGRAM) {
        sk->mark = 0x53;
        sk->bound_dev_if = 4;
    }
    return 1;
}

SEC("cgroup/post_bind4")
int bound4(struct bpf_sock *sk)
{
    if (sk->src_port < 1024 && sk->src_port != 22)
        return 0;
    return 1;
}

SEC("cgroup/sock_release")
int release(struct bpf_sock *sk)
{
    u32 slot = bpf_get_socket_cookie(sk) & 0xff;
    u64 *count = bpf_map_lookup_elem(&released, &slot);
    if (count)
        __sync_fetch_and_add(count, 1);
    return 1;
}

char _license[] SEC("license") = "GPL";
