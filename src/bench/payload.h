/* payload: the text of a bench PRIVMSG. It carries who sent it, its sequence number and when
 * it was sent, so any receiver can check order and measure latency without shared state:
 *     "TCB <sender> <seq> <send_ns> xxxx..."   padded with 'x' to the requested size. */
#ifndef TCPCHAT_BENCH_PAYLOAD_H
#define TCPCHAT_BENCH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* Marks a bench message, so other PRIVMSGs (a human in the room, a server notice) are not
 * taken for one. */
#define PAYLOAD_MAGIC     "TCB "
#define PAYLOAD_MAGIC_LEN 4
/* The longest payload: a relayed line is ":nick!user@host PRIVMSG #chan :text\r\n" within
 * IRC_LINE_MAX (512); 400 leaves 110 bytes for the source, command and channel on any server. */
#define PAYLOAD_SIZE_MAX 400
/* The header alone: magic, three numbers and their spaces. Shorter --size is rounded up. */
#define PAYLOAD_HEADER_MAX (PAYLOAD_MAGIC_LEN + 10 + 1 + 10 + 1 + 20 + 1)

/* Writes the payload (no CR LF, no NUL) into out; size is the wanted length. Returns the
 * length written, or -1 if cap is too small. */
int payload_format(char *out, size_t cap, uint32_t sender, uint32_t seq, uint64_t send_ns,
                   size_t size);
/* Reads the header of text[0..len). Returns 0, or -1 when it is not a bench payload. */
int payload_parse(const char *text, size_t len, uint32_t *sender, uint32_t *seq, uint64_t *send_ns);

#endif
