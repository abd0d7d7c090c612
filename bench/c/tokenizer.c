/* An HTTP/1.x request tokenizer: a state machine over request lines and
 * header fields.  It hashes each header name (case-folded), counts requests
 * and headers, and parses Content-Length values. */
#include "bench.h"

enum { METHOD, TARGET, VERSION, LINE_END, NAME, VALUE_START, VALUE, NUMBER, HEADER_END };

#define CONTENT_LENGTH_HASH 0x90bb30a4u  /* the hash of "content-length" */

ENTRY
{
    u32 state = METHOD, hash = 0;
    u64 requests = 0, headers = 0, content = 0, number = 0, errors = 0;
    for (u64 i = 0; i < len; i++) {
        u8 c = mem[i];
        switch (state) {
        case METHOD:
            if (c == ' ')
                state = TARGET;
            else if (c < 'A' || c > 'Z') {
                errors++;
                state = LINE_END;
            }
            break;
        case TARGET:
            if (c == ' ')
                state = VERSION;
            else if (c <= ' ' || c >= 0x7f) {
                errors++;
                state = LINE_END;
            }
            break;
        case VERSION:
            if (c == '\r' || c == '\n') {
                requests++;
                state = c == '\n' ? NAME : LINE_END;
            }
            break;
        case LINE_END:
            if (c == '\n')
                state = NAME;
            break;
        case NAME:
            if (c == ':') {
                headers++;
                state = VALUE_START;
            } else if (c == '\r' || c == '\n') {
                state = c == '\n' ? METHOD : HEADER_END;
            } else {
                if (c >= 'A' && c <= 'Z')
                    c += 'a' - 'A';
                hash = (hash ^ c) * 0x01000193u;
            }
            break;
        case VALUE_START:
            if (c == ' ' || c == '\t')
                break;
            state = VALUE;
            if (hash == CONTENT_LENGTH_HASH && c >= '0' && c <= '9') {
                number = c - '0';
                state = NUMBER;
            }
            if (c == '\n') {
                hash = 0;
                state = NAME;
            }
            break;
        case NUMBER:
            if (c >= '0' && c <= '9') {
                number = number * 10 + (c - '0');
                break;
            }
            content += number;
            state = VALUE;
            /* fall through */
        case VALUE:
            if (c == '\n') {
                hash = 0;
                state = NAME;
            }
            break;
        case HEADER_END:
            state = METHOD;
            break;
        }
    }
    return requests | headers << 16 | content << 32 | errors << 56;
}
