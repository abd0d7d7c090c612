/* A program that calls a kernel function (kfunc) it declares extern in .ksyms, as
 * programs using dynptrs or the kernel's crypto do; bpfjit provides helpers, not
 * kfuncs, and says so when loading it.  Returns what the kfunc returns. */
#include "bpf_defs.h"

extern int bpf_example_kfunc(void *ctx) __attribute__((section(".ksyms")));

SEC("tc")
int uses_kfunc(void *ctx)
{
    return bpf_example_kfunc(ctx);
}
