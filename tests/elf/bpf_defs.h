/* Definitions the test programs need, written for bpfjit's fixtures: section and map
 * declaration macros, the kernel helpers bpfjit provides (by kernel id), and the
 * packet headers the parsers read.  Compiled with clang -O2 -g -target bpf. */
#ifndef BPF_DEFS_H
#define BPF_DEFS_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed int s32;
typedef signed long long s64;

#define SEC(name) __attribute__((section(name), used))
#define NOINLINE __attribute__((noinline))

/* BTF-defined maps: the values are encoded in the BTF of the member types */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PROG_ARRAY 3
#define BPF_MAP_TYPE_PERF_EVENT_ARRAY 4
#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_LRU_HASH 9
#define BPF_MAP_TYPE_LPM_TRIE 11
#define BPF_MAP_TYPE_ARRAY_OF_MAPS 12
#define BPF_MAP_TYPE_DEVMAP 14
#define BPF_MAP_TYPE_SOCKMAP 15
#define BPF_MAP_TYPE_SOCKHASH 18
#define BPF_MAP_TYPE_SK_STORAGE 24
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_MAP_TYPE_BLOOM_FILTER 30
#define BPF_MAP_TYPE_ARENA 33
#define BPF_F_MMAPABLE (1U << 10)
#define BPF_F_NO_PREALLOC 1
#define __array(name, val) typeof(val) *name[]
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

/* legacy map definitions, SEC("maps") */
struct bpf_map_def {
    u32 type;
    u32 key_size;
    u32 value_size;
    u32 max_entries;
    u32 map_flags;
};

/* helpers, by their kernel ids */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;
static u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static long (*bpf_tail_call)(void *ctx, void *prog_array, u32 index) = (void *)12;
static long (*bpf_redirect)(u32 ifindex, u64 flags) = (void *)23;
static long (*bpf_perf_event_output)(void *ctx, void *map, u64 flags, void *data,
                                     u64 size) = (void *)25;
static s64 (*bpf_csum_diff)(u32 *from, u32 from_size, u32 *to, u32 to_size,
                            u32 seed) = (void *)28;
static long (*bpf_xdp_adjust_head)(void *ctx, int delta) = (void *)44;
static long (*bpf_redirect_map)(void *map, u64 key, u64 flags) = (void *)51;
static long (*bpf_xdp_adjust_tail)(void *ctx, int delta) = (void *)65;
static long (*bpf_fib_lookup)(void *ctx, void *params, int plen, u32 flags) = (void *)69;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, u64 size, u64 flags) = (void *)130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *)132;
static long (*bpf_sysctl_get_name)(void *ctx, char *buf, u64 len, u64 flags) = (void *)101;
static long (*bpf_sysctl_get_current_value)(void *ctx, char *buf, u64 len) = (void *)102;
static long (*bpf_sysctl_get_new_value)(void *ctx, char *buf, u64 len) = (void *)103;
static long (*bpf_sysctl_set_new_value)(void *ctx, const char *buf, u64 len) = (void *)104;
static long (*bpf_strtoul)(const char *buf, u64 len, u64 flags, u64 *res) = (void *)106;

/* the context of cgroup sock_addr programs (connect4, sendmsg4, ...): addresses and
 * the port in network byte order */
struct bpf_sock_addr {
    u32 user_family;
    u32 user_ip4;
    u32 user_ip6[4];
    u32 user_port;
    u32 family;
    u32 type;
    u32 protocol;
    u32 msg_src_ip4;
    u32 msg_src_ip6[4];
    u64 sk;
};
/* ... and of cgroup sock programs (cgroup/sock, post_bind4, sock_release, ...) */
struct bpf_sock {
    u32 bound_dev_if;
    u32 family;
    u32 type;
    u32 protocol;
    u32 mark;
    u32 priority;
    u32 src_ip4;
    u32 src_ip6[4];
    u32 src_port;          /* host byte order */
    u16 dst_port;          /* network byte order */
    u16 pad;
    u32 dst_ip4;
    u32 dst_ip6[4];
    u32 state;
    s32 rx_queue_mapping;
};
static u64 (*bpf_get_socket_cookie)(void *ctx) = (void *)46;
static u64 (*bpf_get_netns_cookie)(void *ctx) = (void *)122;

/* a lock inside a map value (hash and array maps), taken by the helpers 93 and 94 */
struct bpf_spin_lock {
    u32 val;
};
static long (*bpf_spin_lock)(struct bpf_spin_lock *lock) = (void *)93;
static long (*bpf_spin_unlock)(struct bpf_spin_lock *lock) = (void *)94;
#define BPF_F_LOCK 4
struct bpf_timer {
    u64 opaque[2];
} __attribute__((aligned(8)));
static long (*bpf_timer_init)(struct bpf_timer *timer, void *map, u64 flags) = (void *)169;
static long (*bpf_timer_set_callback)(struct bpf_timer *timer, void *callback_fn) =
    (void *)170;
static long (*bpf_timer_start)(struct bpf_timer *timer, u64 nsecs, u64 flags) = (void *)171;
static long (*bpf_timer_cancel)(struct bpf_timer *timer) = (void *)172;
#define CLOCK_MONOTONIC 1
static long (*bpf_loop)(u32 nr_loops, void *callback_fn, void *callback_ctx,
                        u64 flags) = (void *)181;
static long (*bpf_for_each_map_elem)(void *map, void *callback_fn, void *callback_ctx,
                                    u64 flags) = (void *)164;
#define BPF_F_CURRENT_CPU 0xffffffffULL

/* sock_ops programs: the TCP socket-operations context and its helpers */
struct bpf_sock_ops {
    u32 op;
    union { u32 args[4]; u32 reply; u32 replylong[4]; };
    u32 family;
    u32 remote_ip4;        /* network byte order */
    u32 local_ip4;
    u32 remote_ip6[4];
    u32 local_ip6[4];
    u32 remote_port;       /* network byte order, in the upper half */
    u32 local_port;        /* host byte order */
    u32 is_fullsock;
    u32 snd_cwnd;
    u32 srtt_us;
    u32 bpf_sock_ops_cb_flags;
    u32 state;
    u32 rtt_min, snd_ssthresh, rcv_nxt, snd_nxt, snd_una, mss_cache, ecn_flags;
    u32 rate_delivered, rate_interval_us, packets_out, retrans_out, total_retrans;
    u32 segs_in, data_segs_in, segs_out, data_segs_out, lost_out, sacked_out;
    u32 sk_txhash;
    u64 bytes_received;
    u64 bytes_acked;
    u64 sk, skb_data, skb_data_end;
    u32 skb_len;
    u32 skb_tcp_flags;
    u64 skb_hwtstamp;
};
enum { BPF_SOCK_OPS_TIMEOUT_INIT = 1, BPF_SOCK_OPS_RWND_INIT = 2,
       BPF_SOCK_OPS_TCP_CONNECT_CB = 3, BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB = 4,
       BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB = 5, BPF_SOCK_OPS_BASE_RTT = 7 };
#define BPF_SOCK_OPS_RTO_CB_FLAG 1
#define BPF_SOCK_OPS_STATE_CB_FLAG 4
#define SOL_SOCKET 1
#define SOL_TCP 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define TCP_CONGESTION 13
#define TCP_BPF_IW 1001
static long (*bpf_setsockopt)(void *ctx, int level, int optname, void *optval,
                              int optlen) = (void *)49;
static long (*bpf_getsockopt)(void *ctx, int level, int optname, void *optval,
                              int optlen) = (void *)57;
static long (*bpf_sock_ops_cb_flags_set)(void *ctx, int flags) = (void *)59;
#define ntohl(x) __builtin_bswap32(x)

/* sk_msg programs: a message sent on a socket of a socket map */
struct sk_msg_md {
    u64 data;
    u64 data_end;
    u32 family;
    u32 remote_ip4;        /* network byte order */
    u32 local_ip4;
    u32 remote_ip6[4];
    u32 local_ip6[4];
    u32 remote_port;       /* network byte order, in the upper half */
    u32 local_port;        /* host byte order */
    u32 size;
    u64 sk;
};
enum { SK_DROP = 0, SK_PASS = 1 };
#define BPF_F_INGRESS 1
static long (*bpf_msg_redirect_map)(void *msg, void *map, u32 key, u64 flags) = (void *)60;
static long (*bpf_msg_apply_bytes)(void *msg, u32 bytes) = (void *)61;
static long (*bpf_msg_cork_bytes)(void *msg, u32 bytes) = (void *)62;
static long (*bpf_msg_redirect_hash)(void *msg, void *map, void *key, u64 flags) = (void *)71;
static long (*bpf_msg_pull_data)(void *msg, u32 start, u32 end, u64 flags) = (void *)63;
static long (*bpf_msg_push_data)(void *msg, u32 start, u32 len, u64 flags) = (void *)90;
static long (*bpf_msg_pop_data)(void *msg, u32 start, u32 len, u64 flags) = (void *)91;

/* cgroup sockopt programs: a getsockopt or setsockopt call; the option's value is
 * [optval, optval_end) */
struct bpf_sockopt {
    u64 sk;
    u64 optval;
    u64 optval_end;
    s32 level;
    s32 optname;
    s32 optlen;
    s32 retval;
};

/* formatting into a buffer: the format a constant string, the arguments u64s */
static long (*bpf_snprintf)(char *str, u32 str_size, const char *fmt, u64 *data,
                            u32 data_len) = (void *)165;

/* socket storage: a value per socket */
#define BPF_SK_STORAGE_GET_F_CREATE 1
static void *(*bpf_sk_storage_get)(void *map, void *sk, void *value, u64 flags) = (void *)107;
static long (*bpf_sk_storage_delete)(void *map, void *sk) = (void *)108;

/* socket lookups: a tuple from the packet (source = the remote end) */
struct bpf_sock_tuple {
    union {
        struct { u32 saddr; u32 daddr; u16 sport; u16 dport; } ipv4;
        struct { u32 saddr[4]; u32 daddr[4]; u16 sport; u16 dport; } ipv6;
    };
};
#define BPF_F_CURRENT_NETNS (-1L)
#define BPF_TCP_ESTABLISHED 1
#define BPF_TCP_LISTEN 10
static struct bpf_sock *(*bpf_sk_lookup_tcp)(void *ctx, struct bpf_sock_tuple *tuple,
                                             u32 tuple_size, u64 netns, u64 flags) = (void *)84;
static struct bpf_sock *(*bpf_sk_lookup_udp)(void *ctx, struct bpf_sock_tuple *tuple,
                                             u32 tuple_size, u64 netns, u64 flags) = (void *)85;
static long (*bpf_sk_release)(void *sock) = (void *)86;
static struct bpf_sock *(*bpf_sk_fullsock)(struct bpf_sock *sk) = (void *)95;
static long (*bpf_sk_assign)(void *ctx, void *sk, u64 flags) = (void *)124;
static struct bpf_sock *(*bpf_skc_lookup_tcp)(void *ctx, struct bpf_sock_tuple *tuple,
                                              u32 tuple_size, u64 netns, u64 flags) = (void *)99;

/* the XDP context and actions */
struct xdp_md {
    u32 data;
    u32 data_end;
    u32 data_meta;
    u32 ingress_ifindex;
    u32 rx_queue_index;
    u32 egress_ifindex;
};
enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };

/* the socket-buffer context of socket filters and tc programs (the fields used) */
struct __sk_buff {
    u32 len;
    u32 pkt_type;
    u32 mark;
    u32 queue_mapping;
    u32 protocol;
    u32 vlan_present;
    u32 vlan_tci;
    u32 vlan_proto;
    u32 priority;
    u32 ingress_ifindex;
    u32 ifindex;
    u32 tc_index;
    u32 cb[5];
    u32 hash;
    u32 tc_classid;
    u32 data;
    u32 data_end;
};
enum { TC_ACT_OK = 0, TC_ACT_SHOT = 2, TC_ACT_REDIRECT = 7 };

/* packet headers (network byte order on the wire) */
struct ethhdr {
    u8 h_dest[6];
    u8 h_source[6];
    u16 h_proto;
} __attribute__((packed));

struct iphdr {
    u8 ihl_version;
    u8 tos;
    u16 tot_len;
    u16 id;
    u16 frag_off;
    u8 ttl;
    u8 protocol;
    u16 check;
    u32 saddr;
    u32 daddr;
};

struct ports {
    u16 source;
    u16 dest;
};

#define ETH_P_IP 0x0800
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define htons(x) __builtin_bswap16(x)
#define htonl(x) __builtin_bswap32(x)
#define ntohs(x) __builtin_bswap16(x)

#endif
