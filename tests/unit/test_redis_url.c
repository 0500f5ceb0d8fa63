/* Unit tests for src/common/redis_url.c: the forms of --cluster, its bounds, and that an error
 * never repeats the password it was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/redis_url.h"

static struct redis_server rs[REDIS_SHARDS_MAX];
static char why[512];

static int parse(const char *list)
{
    why[0] = '\0';
    return redis_url_parse(list, rs, REDIS_SHARDS_MAX, why, sizeof why);
}

static void one_server_and_its_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("redis://localhost"), 1);
    assert_string_equal(rs[0].host, "localhost");
    assert_int_equal(rs[0].port, 6379);
    assert_int_equal(rs[0].db, 0);
    assert_string_equal(rs[0].user, "");
    assert_string_equal(rs[0].password, "");
    assert_int_equal(parse("redis://127.0.0.1:7000/3"), 1);
    assert_string_equal(rs[0].host, "127.0.0.1");
    assert_int_equal(rs[0].port, 7000);
    assert_int_equal(rs[0].db, 3);
    assert_int_equal(parse("redis://[::1]:7001/"), 1);
    assert_string_equal(rs[0].host, "::1");
    assert_int_equal(rs[0].port, 7001);
}

static void user_and_password(void **state)
{
    (void)state;
    assert_int_equal(parse("redis://:s3cret@h:1"), 1);
    assert_string_equal(rs[0].user, "");
    assert_string_equal(rs[0].password, "s3cret");
    /* a password may hold '@' and ':'; the last '@' ends it */
    assert_int_equal(parse("redis://chat:a@b:c@h"), 1);
    assert_string_equal(rs[0].user, "chat");
    assert_string_equal(rs[0].password, "a@b:c");
    assert_string_equal(rs[0].host, "h");
}

static void several_servers_in_order(void **state)
{
    (void)state;
    assert_int_equal(parse("redis://a:1,redis://b:2,redis://a:1/1"), 3);
    assert_string_equal(rs[0].host, "a");
    assert_string_equal(rs[1].host, "b");
    assert_int_equal(rs[2].db, 1);
    char list[REDIS_SHARDS_MAX * 24 + 32] = "";
    for (int i = 0; i < REDIS_SHARDS_MAX; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%sredis://h:%d", i ? "," : "",
                 1000 + i);
    assert_int_equal(parse(list), REDIS_SHARDS_MAX);
    strcat(list, ",redis://h:2000");
    assert_int_equal(parse(list), -1);
    assert_non_null(strstr(why, "at most"));
}

static void bad_forms_are_refused_with_a_reason(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "localhost:6379",
        "http://h",
        "redis://",
        "redis://:6379",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:12x",
        "redis://h:",
        "redis://h/x",
        "redis://h/-1",
        "redis://[::1",
        "redis://h h",
        "redis://h;rm",
        "redis://h,",
        "redis://h,,redis://g",
        "redis://h:1,redis://h:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i]), -1);
        assert_true(why[0] != '\0');
    }
}

static void a_password_never_reaches_the_reason(void **state)
{
    (void)state;
    static const char *bad[] = {
        "redis://u:hunter2@h:99999",
        "redis://:hunter2@h/x",
        "redis://:hunter2@",
        "rediss://:hunter2@h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i]), -1);
        assert_null(strstr(why, "hunter2"));
    }
    char longpw[600] = "redis://:";
    memset(longpw + strlen(longpw), 'p', 300);
    strcat(longpw, "@h");
    assert_int_equal(parse(longpw), -1);
    assert_null(strstr(why, "ppp"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_server_and_its_defaults),
        cmocka_unit_test(user_and_password),
        cmocka_unit_test(several_servers_in_order),
        cmocka_unit_test(bad_forms_are_refused_with_a_reason),
        cmocka_unit_test(a_password_never_reaches_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
