/* Unit tests for src/server/store/chanreg.c: roles, the access list and its bound, channels
 * per founder, an account dropped, the store kept across a close and an open, and its file read
 * as it is (for a node carrying it into a network). */
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

/* The registrations chanreg_file_each hands over. */
static struct {
    int n;
    struct chanreg_info info[2];
} read_back;

static void collect(void *arg, const struct chanreg_info *info)
{
    (void)arg;
    if (read_back.n < 2)
        read_back.info[read_back.n++] = *info;
}

static void the_file_read_as_it_is(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_chanreg.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chanreg_file_each(dir, collect, NULL), 0); /* no file: nothing */
    assert_int_equal(chanreg_open(dir), 0);
    assert_int_equal(chanreg_register("#Proj", "alice"), CHANREG_OK);
    assert_int_equal(chanreg_access("#proj", "Bob", 'o'), CHANREG_OK);
    assert_int_equal(chanreg_access("#proj", "carol", 'v'), CHANREG_OK);
    chanreg_close();
    read_back.n = 0;
    assert_int_equal(chanreg_file_each(dir, collect, NULL), 1);
    assert_int_equal(read_back.n, 1);
    const struct chanreg_info *info = &read_back.info[0];
    assert_string_equal(info->name, "#Proj");
    assert_string_equal(info->founder, "alice");
    assert_true(info->registered > 0);
    assert_int_equal(info->naccess, 2);
    int bob = strcmp(info->access[0].account, "Bob") == 0 ? 0 : 1;
    assert_string_equal(info->access[bob].account, "Bob");
    assert_int_equal(info->access[bob].mode, 'o');
    assert_string_equal(info->access[1 - bob].account, "carol");
    assert_int_equal(info->access[1 - bob].mode, 'v');
    /* The table is not touched; the file keeps it all. */
    assert_int_equal(chanreg_role("#proj", "alice"), CHANREG_UNREGISTERED);
    assert_int_equal(chanreg_open(dir), 0);
    assert_int_equal(chanreg_role("#proj", "bob"), CHANREG_OP);
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
        cmocka_unit_test(the_file_read_as_it_is),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
