/* Unit tests for src/server/cluster/pack.c: fields round-trip whatever bytes they hold, the
 * bound of a pack is kept, and a reader given hostile bytes (from Redis, as from any peer)
 * marks them bad instead of reading past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cluster/pack.h"

static void fields_round_trip(void **state)
{
    (void)state;
    struct pack *p = malloc(sizeof *p);
    assert_non_null(p);
    pack_init(p);
    pack_str(p, "hello");
    pack_str(p, NULL);
    pack_bytes(p, "a,b:c\r\n\0z", 10);
    pack_u64(p, 0);
    pack_u64(p, 1234567890123456789ULL);
    assert_false(p->overflow);
    assert_memory_equal(p->buf, "5:hello,0:,", 11);

    struct unpack u;
    unpack_init(&u, p->buf, p->len);
    char s[16];
    unpack_str(&u, s, sizeof s);
    assert_string_equal(s, "hello");
    unpack_str(&u, s, sizeof s);
    assert_string_equal(s, "");
    size_t n;
    const char *b = unpack_bytes(&u, &n);
    assert_int_equal(n, 10);
    assert_memory_equal(b, "a,b:c\r\n\0z", 10);
    assert_int_equal(unpack_u64(&u), 0);
    assert_int_equal(unpack_u64(&u), 1234567890123456789ULL);
    assert_false(u.bad);
    /* past the end: bad, not a read beyond the buffer */
    assert_null(unpack_bytes(&u, &n));
    assert_true(u.bad);
    free(p);
}

static void a_string_is_cut_to_its_room(void **state)
{
    (void)state;
    struct pack p;
    pack_init(&p);
    pack_str(&p, "abcdefgh");
    struct unpack u;
    unpack_init(&u, p.buf, p.len);
    char s[4];
    unpack_str(&u, s, sizeof s);
    assert_string_equal(s, "abc");
    assert_false(u.bad);
}

static void the_bound_is_kept(void **state)
{
    (void)state;
    struct pack *p = malloc(sizeof *p);
    char *big = malloc(PACK_MAX);
    assert_non_null(p);
    assert_non_null(big);
    memset(big, 'x', PACK_MAX);
    pack_init(p);
    /* the largest field that fits: its length "16377:" and ',' take 7 bytes */
    pack_bytes(p, big, PACK_MAX - 7);
    assert_false(p->overflow);
    assert_int_equal(p->len, PACK_MAX);
    pack_str(p, "");
    assert_true(p->overflow);
    assert_int_equal(p->len, PACK_MAX);
    pack_init(p);
    pack_bytes(p, big, PACK_MAX - 6);
    assert_true(p->overflow);
    assert_int_equal(p->len, 0);
    /* once over, nothing more is added */
    pack_str(p, "a");
    assert_int_equal(p->len, 0);
    free(big);
    free(p);
}

static int bad(const char *s, size_t len, int fields)
{
    struct unpack u;
    unpack_init(&u, s, len);
    size_t n;
    for (int i = 0; i < fields; i++)
        unpack_bytes(&u, &n);
    return u.bad;
}

static void hostile_bytes_are_bad(void **state)
{
    (void)state;
    assert_false(bad("3:abc,", 6, 1));
    assert_true(bad("", 0, 1));
    assert_true(bad("3:abc", 5, 1));        /* no comma */
    assert_true(bad("3:ab,", 5, 1));        /* length past the end */
    assert_true(bad("4:abc,", 6, 1));       /* the comma is not where the length says */
    assert_true(bad(":abc,", 5, 1));        /* no length */
    assert_true(bad("-1:a,", 5, 1));        /* not a length */
    assert_true(bad("3abc,", 5, 1));        /* no colon */
    assert_true(bad("99999999:a,", 11, 1)); /* absurd length */
    assert_true(bad("18446744073709551617:a,", 23, 1));
    /* the length stops at the buffer's end even when the bytes after look right */
    assert_true(bad("3:abc,", 5, 1));
    /* once bad, stays bad */
    assert_true(bad("x1:a,1:b,", 9, 2));
}

static void numbers_are_strict(void **state)
{
    (void)state;
    struct unpack u;
    unpack_init(&u, "2:1x,", 5);
    assert_int_equal(unpack_u64(&u), 0);
    assert_true(u.bad);
    unpack_init(&u, "0:,", 3);
    unpack_u64(&u);
    assert_true(u.bad);
    unpack_init(&u, "21:123456789012345678901,", 25);
    unpack_u64(&u);
    assert_true(u.bad);
    unpack_init(&u, "3:042,", 6);
    assert_int_equal(unpack_u64(&u), 42);
    assert_false(u.bad);
    /* a bad field leaves a string empty */
    char s[8] = "junk";
    unpack_init(&u, "9:x,", 4);
    unpack_str(&u, s, sizeof s);
    assert_string_equal(s, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_round_trip),  cmocka_unit_test(a_string_is_cut_to_its_room),
        cmocka_unit_test(the_bound_is_kept),  cmocka_unit_test(hostile_bytes_are_bad),
        cmocka_unit_test(numbers_are_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
