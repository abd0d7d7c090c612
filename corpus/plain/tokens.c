/* A byte-at-a-time JSON tokenizer: a 14-state switch inside a loop over the input,
 * counting tokens of each kind in a stack array and stopping at the first error. */
#include "corpus.h"

enum state { START, STRING, ESCAPE, UNICODE, NUMBER, FRACTION, EXP_SIGN, EXPONENT,
             WORD_T, WORD_F, WORD_N, AFTER_VALUE, COMMENT, ERROR };
enum kind { K_STRING, K_NUMBER, K_WORD, K_OPEN, K_CLOSE, K_COMMA, K_COLON, K_COUNT };

static inline int is_digit(u8 c) { return c >= '0' && c <= '9'; }
static inline int is_hex(u8 c) { return is_digit(c) || (c | 32) >= 'a' && (c | 32) <= 'f'; }
static inline int is_space(u8 c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

PROGRAM
{
    u32 counts[K_COUNT] = {0};
    enum state s = START;
    u32 pending = 0, depth = 0, max_depth = 0;
    u64 i;
    for (i = 0; i < len && s != ERROR; i++) {
        u8 c = mem[i];
        switch (s) {
        case START:
        case AFTER_VALUE:
            if (is_space(c))
                break;
            if (c == '"') { s = STRING; break; }
            if (c == '-' || is_digit(c)) { s = NUMBER; break; }
            if (c == 't') { s = WORD_T; pending = 3; break; }
            if (c == 'f') { s = WORD_F; pending = 4; break; }
            if (c == 'n') { s = WORD_N; pending = 3; break; }
            if (c == '{' || c == '[') {
                counts[K_OPEN]++;
                depth++;
                max_depth = max(max_depth, depth);
                s = START;
                break;
            }
            if (c == '}' || c == ']') {
                if (depth == 0) { s = ERROR; break; }
                counts[K_CLOSE]++;
                depth--;
                s = AFTER_VALUE;
                break;
            }
            if (c == ',') { counts[K_COMMA]++; s = START; break; }
            if (c == ':') { counts[K_COLON]++; s = START; break; }
            if (c == '/') { s = COMMENT; break; }
            s = ERROR;
            break;
        case STRING:
            if (c == '\\') s = ESCAPE;
            else if (c == '"') { counts[K_STRING]++; s = AFTER_VALUE; }
            break;
        case ESCAPE:
            if (c == 'u') { s = UNICODE; pending = 4; }
            else s = STRING;
            break;
        case UNICODE:
            if (!is_hex(c)) s = ERROR;
            else if (--pending == 0) s = STRING;
            break;
        case NUMBER:
        case FRACTION:
        case EXPONENT:
            if (is_digit(c)) break;
            if (c == '.' && s == NUMBER) { s = FRACTION; break; }
            if ((c | 32) == 'e' && s != EXPONENT) { s = EXP_SIGN; break; }
            counts[K_NUMBER]++;
            s = AFTER_VALUE;
            i--;                        /* look at this byte again */
            break;
        case EXP_SIGN:
            s = (c == '+' || c == '-' || is_digit(c)) ? EXPONENT : ERROR;
            break;
        case WORD_T:
        case WORD_F:
        case WORD_N:
            if (c < 'a' || c > 'z') s = ERROR;
            else if (--pending == 0) { counts[K_WORD]++; s = AFTER_VALUE; }
            break;
        case COMMENT:
            if (c == '\n') s = START;
            break;
        default:
            s = ERROR;
        }
    }
    u64 r = (u64)s << 56 | (u64)max_depth << 48 | i;
    for (int k = 0; k < K_COUNT; k++)
        r = r * 33 + counts[k];
    return r;
}
