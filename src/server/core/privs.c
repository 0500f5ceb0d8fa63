/* privs: the root check and the drop to --user. */
#include "privs.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "config.h"

int privs_check(const struct config *cfg)
{
    if (geteuid() != 0) {
        /* Not root: nothing to drop, and no way to become anyone else. */
        struct passwd *pw = cfg->user ? getpwnam(cfg->user) : NULL;
        if (cfg->user && (!pw || pw->pw_uid != geteuid()))
            log_warn("--user %s: not started as root, so running as the current user", cfg->user);
        return 0;
    }
    if (cfg->user) {
        struct passwd *pw = getpwnam(cfg->user);
        if (!pw) {
            fprintf(stderr, "tcpchatd: --user %s: no such user\n", cfg->user);
            return -1;
        }
        if (pw->pw_uid == 0) {
            fprintf(stderr, "tcpchatd: --user %s: that is root; name an unprivileged user\n",
                    cfg->user);
            return -1;
        }
        return 0;
    }
    if (cfg->allow_root)
        return 0;
    fprintf(stderr, "tcpchatd: refusing to run as root: give --user NAME (e.g. --user nobody) to "
                    "drop to that user once the ports are open, or --allow-root\n");
    return -1;
}

/* Gives dir and the files directly in it to uid:gid (the stores' database, WAL and shm
 * files), so that the user can write them now and after a restart. */
static int chown_data(const char *dir, uid_t uid, gid_t gid)
{
    if (chown(dir, uid, gid) < 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && chown(path, uid, gid) < 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int privs_drop(const struct config *cfg)
{
    if (geteuid() != 0 || !cfg->user) {
        if (geteuid() == 0)
            log_warn("running as root (--allow-root): a flaw in tcpchatd would be a flaw as root");
        return 0;
    }
    struct passwd *pw = getpwnam(cfg->user);
    if (!pw) {
        fprintf(stderr, "tcpchatd: --user %s: no such user\n", cfg->user);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (cfg->data_dir && chown_data(cfg->data_dir, uid, gid) < 0) {
        fprintf(stderr, "tcpchatd: cannot give %s to user %s: %s\n", cfg->data_dir, cfg->user,
                strerror(errno));
        return -1;
    }
    /* glibc applies these to every thread of the process (the store threads run already). */
    if (initgroups(pw->pw_name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        fprintf(stderr, "tcpchatd: cannot become user %s: %s\n", cfg->user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        fprintf(stderr, "tcpchatd: could become root again after dropping to %s\n", cfg->user);
        return -1;
    }
    log_info("running as user %s (uid %d)", cfg->user, (int)uid);
    return 0;
}
