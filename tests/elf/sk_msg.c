/* An sk_msg program steering what local processes send, as a sidecar proxy's
 * socket-level redirect does: messages starting with 'X' are dropped; the verdict is
 * applied to the whole message; a message to port 80 goes to the socket in
 * `frontends[0]`, received (BPF_F_INGRESS); any other goes to the peer socket that
 * `peers` keeps for its addresses and ports (keyed the other way round: the peer's
 * local end is this message's remote one), sent.  Messages of fewer than 4 bytes wait
 * for 4 (cork) and pass.
 */
#include "bpf_defs.h"

struct peer_key {
    u32 local_ip4;
    u32 remote_ip4;
    u32 local_port;
    u32 remote_port;
};

struct {
    __uint(type, BPF_MAP_TYPE_SOCKMAP);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, u64);
} frontends SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_SOCKHASH);
    __uint(max_entries, 16);
    __type(key, struct peer_key);
    __type(value, u64);
} peers SEC(".maps");

SEC("sk_msg")
int steer(struct sk_msg_md *msg)
{
    void *data = (void *)(long)msg->data, *end = (void *)(long)msg->data_end;
    struct peer_key key = {};

    if (data + 4 > end) {
        bpf_msg_cork_bytes(msg, 4);
        return SK_PASS;
    }
    if (*(u8 *)data == 'X')
        return SK_DROP;
    bpf_msg_apply_bytes(msg, msg->size);
    if (msg->local_port == 80)
        return bpf_msg_redirect_map(msg, &frontends, 0, BPF_F_INGRESS);
    key.local_ip4 = msg->remote_ip4;
    key.remote_ip4 = msg->local_ip4;
    key.local_port = ntohl(msg->remote_port);
    key.remote_port = msg->local_port;
    return bpf_msg_redirect_hash(msg, &peers, &key, 0);
}

char LICENSE[] SEC("license") = "GPL";
