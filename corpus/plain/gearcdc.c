/* Content-defined chunking with a gear hash (FastCDC's normalized form): a stricter
 * mask before the average chunk size, a looser one after, minimum and maximum sizes;
 * each chunk's fingerprint goes into a small open-addressed set to count duplicates. */
#include "corpus.h"
/* the gear table: 256 words of splitmix64 from seed 12345, low halves */
static const u32 gear[256] = {
    0xa9d111a0u, 0xf713f8edu, 0x80e6721du, 0x5c3f42cau, 0x980d78ebu, 0xd933f62eu,
    0x0cb38e42u, 0x6820371cu, 0x583ab917u, 0xce53fecfu, 0x42571d85u, 0x5c0b9816u,
    0x44b5f864u, 0x05269a55u, 0x8ae3fd10u, 0xd1caf6b6u, 0x445a0f1cu, 0x9060b81eu,
    0x33ddb880u, 0x381e5debu, 0x99489901u, 0xb143494cu, 0xc5731607u, 0xf7974d7fu,
    0x8ad9f8dbu, 0xc0049eb3u, 0xfef6aab3u, 0xb2a54fabu, 0x42680686u, 0x10c8ca72u,
    0xfba58d98u, 0x08f884f2u, 0xd461beccu, 0xfef865fbu, 0xf67e2712u, 0x1c3689c3u,
    0x2a265425u, 0x990947d9u, 0xdde0976du, 0x3547d2d0u, 0xb8270f9cu, 0x5417833du,
    0x0b4323e6u, 0xa8c0b15cu, 0xa28f5524u, 0x42eb887au, 0xdbbd1e02u, 0x949bef57u,
    0x4b84d0a6u, 0xab2b1fd2u, 0xd2c8d32au, 0xf84ae09du, 0x3906bca8u, 0x3327e297u,
    0x1666c210u, 0xb2c17ccfu, 0x5726a0b7u, 0xb84caf24u, 0x270ee1dbu, 0xfb942919u,
    0x2222141cu, 0x682bce74u, 0x5a062d88u, 0x34268b06u, 0x1f7496e9u, 0x613046d6u,
    0x9bed6cb0u, 0x7b412a27u, 0x5603c32fu, 0xb2686212u, 0x698e0658u, 0x6f900c18u,
    0x17422aa2u, 0x1e5d70c0u, 0xf3d9d861u, 0x26abbfb9u, 0x3f1a13e4u, 0xecd1ff06u,
    0xde440899u, 0xfdb9669bu, 0xa5d75a78u, 0xfe745a82u, 0x1e2a4e61u, 0xb8c426dcu,
    0xf085a3d2u, 0x6e05a448u, 0x2baff27fu, 0x3d0c9d70u, 0xfa306064u, 0x6ce00be1u,
    0x10f441bfu, 0x92a3364du, 0xdaef1700u, 0x239b3e67u, 0xbe6b360au, 0x63200e3du,
    0x59875309u, 0xda489423u, 0x2561890du, 0xe870ef92u, 0x4b60a6b3u, 0xcc351e7du,
    0x71d6e1e4u, 0x582ad914u, 0x8afee11au, 0x105fb35eu, 0x6df1685du, 0x1d39b512u,
    0xd86a31e2u, 0xa788d205u, 0x4d2e83c3u, 0x0b0f1a7eu, 0xefdd1542u, 0x280dbfc1u,
    0x1d99ff31u, 0x9e35de93u, 0xaeef9cabu, 0x5f5a5706u, 0xbe5c7948u, 0x32b77933u,
    0xc45ff547u, 0x35efb16cu, 0xa0c72fb9u, 0xc48122e5u, 0xcb47cda2u, 0xe58b8b2bu,
    0xb827ead7u, 0xb083cf4cu, 0x1f9f0f85u, 0xf97a1807u, 0xcced4133u, 0xec811413u,
    0x211a6064u, 0x9db0c660u, 0x7668eb62u, 0x05ed4dcau, 0x6bcb6d36u, 0x3f77d2b3u,
    0x77ddfa00u, 0xdaba9ab4u, 0xc87947a6u, 0x02b6232fu, 0x04ce55a6u, 0x19e82779u,
    0xa816ee78u, 0x7979df64u, 0xcd599fcau, 0x37d8c518u, 0xbfd1c31bu, 0x86cd8297u,
    0xf6225273u, 0x4913a69bu, 0x9b4866f4u, 0xcee65dddu, 0x1cdde005u, 0x46f4ed67u,
    0x0a8442f5u, 0x504e8fceu, 0x08948d9au, 0x3bd13424u, 0xbccc9939u, 0x9bbac48eu,
    0xeaef610du, 0x05f98adbu, 0x4ccf3c54u, 0x12e2cb4eu, 0x650cdae4u, 0x9f7b0292u,
    0xa0b2bb6cu, 0xc960566cu, 0x27368003u, 0x4d82223fu, 0x706a2e63u, 0xfd8cf897u,
    0x1bc4e1e4u, 0x20d62779u, 0x9601b00fu, 0x75926651u, 0x448fd564u, 0x1ba07d1cu,
    0x88e9ad3du, 0xd6e33d6du, 0x17324bc0u, 0x736fb84du, 0xbf6c105du, 0x25a582cfu,
    0xa1681ce9u, 0xd21d5d5fu, 0x59f164feu, 0xec544530u, 0xe1684e54u, 0xe7d36126u,
    0xc17b642fu, 0xff76a3f9u, 0x394bace5u, 0x088521d8u, 0x8ae601a8u, 0x2becf9f1u,
    0xd34be87cu, 0xcf2f95ceu, 0xc059466bu, 0x82b6923cu, 0x29ca7f56u, 0xcda1515au,
    0xda127acbu, 0x2ae69cecu, 0xa6354cc6u, 0x91548793u, 0x0c9f57b7u, 0x1262887du,
    0x59017290u, 0x2eb6c4b1u, 0x5b01bb56u, 0xe0199a4fu, 0x044e1fd1u, 0xd98748ddu,
    0x0141a1c7u, 0xcf9e0c1du, 0x9edd84f2u, 0xa09399c5u, 0x8d2f2a6fu, 0x5bf9882fu,
    0x809ef3d5u, 0xc4bf5f2fu, 0xf9c332d6u, 0x4e380dd8u, 0xe68a8cc9u, 0x3fbcbdfbu,
    0x66e3043bu, 0xe3462f84u, 0x9dab1a61u, 0x360c742eu, 0x9e1d255fu, 0x389fb383u,
    0xdac7aa39u, 0xf495af7bu, 0xf58bb2b5u, 0xcb4364acu, 0x288fe093u, 0x5b00d326u,
    0xb8e69251u, 0xbd4ddaceu, 0xd3d23838u, 0x90eebe2au, 0x8842d7a9u, 0xfbcf2505u,
    0x99381792u, 0xf1fecbebu, 0x8c0e26b8u, 0xd40fc11du, 0x31b14c61u, 0x9755e9c2u,
    0x0fda1b9au, 0xd3788ec5u, 0xdbaf473cu, 0x4160ca2bu,
};

#define MIN_SIZE 32
#define AVG_SIZE 96
#define MAX_SIZE 256
#define MASK_S 0xd9030000u
#define MASK_L 0xd9000000u
#define SLOTS 32

static u64 chunk_end(const u8 *p, u64 n)
{
    if (n <= MIN_SIZE)
        return n;
    if (n > MAX_SIZE)
        n = MAX_SIZE;
    u64 normal = n < AVG_SIZE ? n : AVG_SIZE;
    u32 h = 0;
    u64 i = MIN_SIZE;
    for (; i < normal; i++) {
        h = (h << 1) + gear[p[i]];
        if (!(h & MASK_S))
            return i + 1;
    }
    for (; i < n; i++) {
        h = (h << 1) + gear[p[i]];
        if (!(h & MASK_L))
            return i + 1;
    }
    return n;
}

PROGRAM
{
    u32 set[SLOTS] = {0};
    u64 chunks = 0, dups = 0, sizes = 0;
    u64 at = 0;
    while (at < len) {
        u64 n = chunk_end(mem + at, len - at);
        u32 fp = 0x811c9dc5u;
        for (u64 i = 0; i < n; i++)
            fp = (fp ^ mem[at + i]) * 0x01000193u;
        fp |= 1;
        u32 slot = fp % SLOTS;
        for (u32 probe = 0; probe < SLOTS; probe++) {
            if (set[slot] == fp) {
                dups++;
                break;
            }
            if (set[slot] == 0) {
                set[slot] = fp;
                break;
            }
            slot = (slot + 1) % SLOTS;
        }
        chunks++;
        sizes = sizes * 1000003 ^ n;
        at += n;
    }
    return chunks << 48 ^ dups << 40 ^ sizes;
}
