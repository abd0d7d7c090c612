/* rule_scan.c built for clang's oldest CPU, v1 (clang's default CPU before LLVM 20,
 * how aws-network-policy-agent is built): the offset's test is on a copy zero-extended
 * by shifts (`r4 <<= 32; r4 >>= 32; if r4 != 288`).  The same table and results. */
#define match_port match_port_v1
#include "rule_scan.c"
