/* Shared by the XDP benchmark programs: the context and packet headers, written out
 * here so that they build with clang alone (no kernel or libbpf headers).  The
 * programs use no maps and no helpers, so that the running kernel can run them too
 * (bpfjit's kernel engine); every packet access is checked against data_end, as the
 * kernel's verifier demands. */
#ifndef XDP_H
#define XDP_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

struct xdp_md { u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index,
                egress_ifindex; };

enum { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX };

struct eth { u8 dst[6], src[6]; u16 proto; };
struct vlan { u16 tci, proto; };
struct ipv4 { u8 vihl, tos; u16 total, id, frag; u8 ttl, proto; u16 check; u32 src, dst; };
struct ipv6 { u32 vtcfl; u16 payload; u8 next, hops; u8 src[16], dst[16]; };
struct tcp { u16 sport, dport; u32 seq, ack; u8 off, flags; u16 window, check, urg; };
struct udp { u16 sport, dport, len, check; };

#define SEC(name) __attribute__((section(name), used))
#define BE16(x) ((u16)((((x) & 0xff) << 8) | (((x) >> 8) & 0xff)))

#endif
