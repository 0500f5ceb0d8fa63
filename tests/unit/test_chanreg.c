/* Unit tests for src/server/store/chanreg.c: roles, the access list and its bound, channels
 * per founder, an account dropped, and the store kept across a close and an open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/chanreg.h"

static void roles_and_the_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_chanreg.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chanreg_open(dir), 0);
    assert_int_equal(chanreg_role("#proj", "alice"), CHANREG_UNREGISTERED);
    assert_int_equal(chanreg_register("#Proj", "alice"), CHANREG_OK);
    assert_int_equal(chanreg_register("#PROJ", "bob"), CHANREG_EXISTS);
    assert_int_equal(chanreg_role("#proj", "ALICE"), CHANREG_FOUNDER);
    assert_int_equal(chanreg_role("#proj", "bob"), CHANREG_NONE);
    assert_int_equal(chanreg_role("#proj", ""), CHANREG_NONE);
    assert_int_equal(chanreg_role("#proj", NULL), CHANREG_NONE);
    assert_int_equal(chanreg_access("#proj", "Bob", 'o'), CHANREG_OK);
    assert_int_equal(chanreg_access("#proj", "carol", 'v'), CHANREG_OK);
    assert_int_equal(chanreg_access("#nope", "carol", 'v'), CHANREG_NOT_FOUND);
    assert_int_equal(chanreg_role("#proj", "bob"), CHANREG_OP);
    assert_int_equal(chanreg_role("#proj", "carol"), CHANREG_VOICE);
    chanreg_close();

    assert_int_equal(chanreg_open(dir), 0);
    struct chanreg_info info;
    assert_int_equal(chanreg_info("#proj", &info), CHANREG_OK);
    assert_string_equal(info.name, "#Proj");
    assert_string_equal(info.founder, "alice");
    assert_int_equal(info.naccess, 2);
    assert_int_equal(chanreg_role("#proj", "bob"), CHANREG_OP);
    assert_int_equal(chanreg_access("#proj", "BOB", 0), CHANREG_OK);
    assert_int_equal(chanreg_access("#proj", "bob", 0), CHANREG_NOT_FOUND);
    assert_int_equal(chanreg_role("#proj", "bob"), CHANREG_NONE);
    /* carol leaves every list, and alice's channels go with her account. */
    assert_int_equal(chanreg_register("#other", "dave"), CHANREG_OK);
    assert_int_equal(chanreg_access("#other", "carol", 'o'), CHANREG_OK);
    assert_int_equal(chanreg_forget_account("carol"), 0);
    assert_int_equal(chanreg_role("#other", "carol"), CHANREG_NONE);
    assert_int_equal(chanreg_forget_account("alice"), 1);
    assert_int_equal(chanreg_role("#proj", "alice"), CHANREG_UNREGISTERED);
    chanreg_close();

    assert_int_equal(chanreg_open(dir), 0);
    assert_int_equal(chanreg_role("#proj", "alice"), CHANREG_UNREGISTERED);
    assert_int_equal(chanreg_role("#other", "carol"), CHANREG_NONE);
    assert_int_equal(chanreg_drop("#other"), CHANREG_OK);
    assert_int_equal(chanreg_drop("#other"), CHANREG_NOT_FOUND);
    chanreg_close();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void bounds(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_chanreg.XXXXXX", name[32];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chanreg_open(dir), 0);
    for (int i = 0; i < CHANREG_PER_ACCOUNT; i++) {
        snprintf(name, sizeof name, "#c%d", i);
        assert_int_equal(chanreg_register(name, "alice"), CHANREG_OK);
    }
    assert_int_equal(chanreg_register("#one-more", "Alice"), CHANREG_TOO_MANY);
    assert_int_equal(chanreg_register("#one-more", "bob"), CHANREG_OK);
    for (int i = 0; i < CHANREG_ACCESS_MAX; i++) {
        snprintf(name, sizeof name, "user%d", i);
        assert_int_equal(chanreg_access("#c0", name, 'v'), CHANREG_OK);
    }
    assert_int_equal(chanreg_access("#c0", "extra", 'v'), CHANREG_TOO_MANY);
    assert_int_equal(chanreg_access("#c0", "user0", 'o'), CHANREG_OK); /* a change still fits */
    chanreg_close();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles_and_the_store),
        cmocka_unit_test(bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
