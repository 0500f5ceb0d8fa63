/* pack: the fields of a cluster event as one byte string, for Redis (a PUBLISH payload, a
 * stream entry, a hash value). Each field is a netstring ("5:hello,"), so a field may hold any
 * byte a client can send (tabs, control codes, commas) and a reader never guesses where a field
 * ends. Every reader checks every length against what it was given: a payload from Redis is
 * input like any other. */
#ifndef TCPCHAT_PACK_H
#define TCPCHAT_PACK_H

#include <stddef.h>
#include <stdint.h>

/* A packed byte string being built, at most PACK_MAX bytes (a line, its tags and the event's
 * facts fit with room to spare). */
#define PACK_MAX 16384

struct pack {
    char buf[PACK_MAX];
    size_t len;
    int overflow; /* a field did not fit: the pack must not be sent */
};

void pack_init(struct pack *p);
/* Appends a field of n bytes. */
void pack_bytes(struct pack *p, const char *s, size_t n);
/* Appends a string ("" for NULL). */
void pack_str(struct pack *p, const char *s);
/* Appends a number in decimal. */
void pack_u64(struct pack *p, uint64_t v);

/* Reads fields back from a packed string of len bytes. */
struct unpack {
    const char *p, *end;
    int bad; /* a field was malformed or missing: everything read is suspect */
};

void unpack_init(struct unpack *u, const char *s, size_t len);
/* The next field: its bytes and length (not NUL-terminated). NULL (and bad set) at the end or
 * on a malformed field. */
const char *unpack_bytes(struct unpack *u, size_t *n);
/* The next field copied into out (cap bytes with the NUL), cut at cap - 1; out is "" on error. */
void unpack_str(struct unpack *u, char *out, size_t cap);
/* The next field as a decimal number; 0 (and bad set) when it is not one. */
uint64_t unpack_u64(struct unpack *u);

#endif
