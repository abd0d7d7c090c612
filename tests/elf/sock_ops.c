/* A sock_ops program tuning TCP connections, in the manner of the kernel's samples
 * (tcp_iw, tcp_bufs, tcp_cong, tcp_basertt, tcp_synrto): the op says when it is called,
 * `reply` answers; socket options and callback flags set through the helpers.
 *
 *   TIMEOUT_INIT          reply 10 (a SYN RTO of 10 jiffies) for remote port 55601,
 *                         else -1
 *   RWND_INIT             reply 40 segments
 *   TCP_CONNECT_CB        congestion control "reno"; reply = setsockopt's result
 *   ACTIVE_ESTABLISHED    send and receive buffers of 150000 and an initial window of
 *                         40 (three setsockopt, results summed), then the RTO and
 *                         STATE callbacks asked for; reply = sum * 1000 + the flags
 *                         field read back
 *   PASSIVE_ESTABLISHED   sk_txhash = local port * 3 + remote port; reply = srtt_us
 *   BASE_RTT              80 when the congestion control read back is "reno", else
 *                         getsockopt's error, else -1
 */
#include "bpf_defs.h"

SEC("sockops")
int tune(struct bpf_sock_ops *skops)
{
    int op = skops->op, rv = -1;

    switch (op) {
    case BPF_SOCK_OPS_TIMEOUT_INIT:
        if (ntohl(skops->remote_port) == 55601)
            rv = 10;
        break;
    case BPF_SOCK_OPS_RWND_INIT:
        rv = 40;
        break;
    case BPF_SOCK_OPS_TCP_CONNECT_CB: {
        char reno[] = "reno";

        rv = bpf_setsockopt(skops, SOL_TCP, TCP_CONGESTION, reno, sizeof(reno));
        break;
    }
    case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: {
        int size = 150000, window = 40;

        rv = bpf_setsockopt(skops, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        rv += bpf_setsockopt(skops, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        rv += bpf_setsockopt(skops, SOL_TCP, TCP_BPF_IW, &window, sizeof(window));
        bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_RTO_CB_FLAG | BPF_SOCK_OPS_STATE_CB_FLAG);
        rv = rv * 1000 + (int)skops->bpf_sock_ops_cb_flags;
        break;
    }
    case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
        skops->sk_txhash = skops->local_port * 3 + ntohl(skops->remote_port);
        rv = skops->srtt_us;
        break;
    case BPF_SOCK_OPS_BASE_RTT: {
        char cong[16];
        int n = bpf_getsockopt(skops, SOL_TCP, TCP_CONGESTION, cong, sizeof(cong));

        if (!n && cong[0] == 'r' && cong[1] == 'e' && cong[2] == 'n' && cong[3] == 'o'
                && !cong[4])
            rv = 80;
        else if (n)
            rv = n;
        break;
    }
    }
    skops->reply = rv;
    return 1;
}

char LICENSE[] SEC("license") = "GPL";
