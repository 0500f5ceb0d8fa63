/* fuzz_config: libFuzzer target for tcpchatd's settings: the INI config file (conffile.c, with
 * inih) and the command line (config.c, getopt_long). The input up to its first NUL byte is the
 * config file; the rest, split at NUL bytes, is extra command-line arguments after
 * "--config FILE". A successful load must give settings within their documented bounds; a
 * failed one must say why. Both are freed (LeakSanitizer checks), and the reload path's swap
 * (config_take_reloadable) runs between two loads.
 *
 * Inputs naming /dev, /proc or /sys are skipped: a file option pointing at a terminal or a
 * pipe would block the fuzzer, not find a bug. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/core/config.h"
#include "server/core/defines.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX 8192
#define FUZZ_ARGS_MAX  32

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int conf_fd = -1;
static char conf_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* --help and --version print to stdout: keep the fuzzer's output readable. */
    int null = open("/dev/null", O_WRONLY);
    CHECK(null >= 0 && dup2(null, STDOUT_FILENO) == STDOUT_FILENO);
    close(null);
    conf_fd = memfd_create("fuzz_config", MFD_CLOEXEC);
    CHECK(conf_fd >= 0);
    snprintf(conf_path, sizeof conf_path, "/proc/self/fd/%d", conf_fd);
    return 0;
}

static int names_special_file(const uint8_t *data, size_t size)
{
    static const char *const dirs[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (memmem(data, size, dirs[i], strlen(dirs[i])))
            return 1;
    }
    return 0;
}

/* What config_load promises about a configuration it accepted. */
static void check_loaded(const struct config *cfg)
{
    CHECK(cfg->port >= 1 && cfg->port <= 65535);
    CHECK(cfg->workers >= 1 && cfg->workers <= WORKERS_MAX);
    CHECK(cfg->server_name && cfg->server_name[0] && !strchr(cfg->server_name, ' '));
    CHECK(cfg->sendq_soft <= cfg->sendq);
    CHECK(cfg->recvq >= 1024);
    CHECK(cfg->flood_rate >= 1 && cfg->flood_burst >= 1);
    CHECK(cfg->nopers >= 0 && cfg->nopers <= OPERS_MAX);
    for (int i = 0; i < cfg->nopers; i++) {
        CHECK(cfg->opers[i].hash != NULL);
        CHECK(config_find_oper(cfg, cfg->opers[i].name) == &cfg->opers[i]);
    }
    CHECK(cfg->motd_lines >= 0 && cfg->motd_lines <= MOTD_LINES_MAX);
    if (cfg->description)
        CHECK(strlen(cfg->description) <= DESCRIPTION_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_INPUT_MAX || names_special_file(data, size))
        return 0;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t file_len = nul ? (size_t)(nul - data) : size;
    CHECK(ftruncate(conf_fd, 0) == 0);
    CHECK(pwrite(conf_fd, data, file_len, 0) == (ssize_t)file_len);

    /* argv: the program, --config FILE, then the NUL-separated rest (a copy: getopt permutes
     * argv and the strings must be NUL-terminated). */
    static char args[FUZZ_INPUT_MAX + 1];
    char *argv[FUZZ_ARGS_MAX + 4];
    int argc = 0;
    argv[argc++] = (char *)"tcpchatd";
    argv[argc++] = (char *)"--config";
    argv[argc++] = conf_path;
    if (nul) {
        size_t rest = size - file_len - 1;
        memcpy(args, nul + 1, rest);
        args[rest] = '\0';
        for (char *a = args; a <= args + rest && argc < FUZZ_ARGS_MAX; a += strlen(a) + 1)
            argv[argc++] = a;
    }
    argv[argc] = NULL;

    struct config cfg, again;
    enum config_result r = config_load(&cfg, argc, argv);
    if (r == CONFIG_OK && !cfg.mkpasswd)
        check_loaded(&cfg);
    if (r == CONFIG_ERROR)
        CHECK(cfg.error[0] != '\0');
    /* A reload reads the same file and command line again: same outcome, and the swap of
     * the reloadable settings leaves both configs whole. */
    enum config_result r2 = config_load(&again, argc, argv);
    CHECK(r2 == r);
    if (r == CONFIG_OK && r2 == CONFIG_OK) {
        config_take_reloadable(&cfg, &again);
        if (!cfg.mkpasswd)
            check_loaded(&cfg);
    }
    config_free(&again);
    config_free(&cfg);
    return 0;
}
