/* test_util.c - temporary-file names and which temporaries a starting run
 * may delete (util.h), run-directory locks, and the clock.
 *
 * A run removes the temporaries of writers that died (a killed run); it must
 * keep those of shards writing beside it, on this host or another one. The
 * writers here are this process and forked children: one still running, one
 * exited and reaped, one exited and not yet reaped (a zombie).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bnnsweep/error.h"
#include "bnnsweep/util.h"
#include "test_util.h"

/* ---- helpers ---- */

/* This host's part of a temporary name, taken from one bns_temp_path makes. */
static void my_host(char *host, size_t size) {
    char tmp[512];
    assert_int_equal(bns_temp_path("x.h5", tmp, sizeof tmp), 0);
    const char *begin = tmp + strlen("x.h5.tmp."), *end = strrchr(tmp, '.');
    assert_true(end > begin);
    snprintf(host, size, "%.*s", (int)(end - begin), begin);
}

/* PATH.tmp.HOST.PID as another process (pid) on host would name it. */
static const char *temp_name(char *buf, size_t size, const char *host, long pid) {
    snprintf(buf, size, "run/tasks/eval-0123456789abcdef.h5.tmp.%s.%ld", host, pid);
    return buf;
}

/* A child that exits at once; reaped unless keep_zombie. */
static pid_t exited_child(int keep_zombie) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(0);
    if (!keep_zombie) assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* ---- names ---- */

static void test_temp_path_names_host_and_pid(void **state) {
    (void)state;
    char tmp[512], host[128], want[512];
    assert_int_equal(bns_temp_path("dir/model.h5", tmp, sizeof tmp), 0);
    my_host(host, sizeof host);
    assert_true(host[0] != '\0');
    assert_int_equal(strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"), strlen(host));
    snprintf(want, sizeof want, "dir/model.h5.tmp.%s.%ld", host, (long)getpid());
    assert_string_equal(tmp, want);
}

static void test_temp_path_too_long_names_path(void **state) {
    (void)state;
    char tmp[16];
    assert_int_equal(bns_temp_path("results/model.h5", tmp, sizeof tmp), -1);
    assert_string_equal(tmp, "");
    assert_non_null(strstr(bns_last_error(), "results/model.h5"));
    assert_non_null(strstr(bns_last_error(), "too long"));
}

/* ---- which temporaries are stale ---- */

static void test_living_writers_are_kept(void **state) {
    (void)state;
    char name[512], host[128];
    my_host(host, sizeof host);
    /* this process, in the new and the old form */
    assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, host, (long)getpid())), 0);
    assert_int_equal(bns_temp_path("a/b.h5", name, sizeof name), 0);
    assert_int_equal(bns_temp_is_stale(name), 0);
    snprintf(name, sizeof name, "b.h5.tmp.%ld", (long)getpid());
    assert_int_equal(bns_temp_is_stale(name), 0);
    /* another process that is still running (blocked on a pipe) */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(fds[1]);
        ssize_t got = read(fds[0], &c, 1);
        _exit(got < 0);
    }
    close(fds[0]);
    assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, host, (long)pid)), 0);
    close(fds[1]); /* the child reads EOF and exits */
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(bns_temp_is_stale(name), 1);
}

static void test_dead_writers_are_stale(void **state) {
    (void)state;
    char name[512], host[128];
    my_host(host, sizeof host);
    pid_t pid = exited_child(0);
    assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, host, (long)pid)), 1);
    /* the name of an older version (no host) counts as this host's */
    snprintf(name, sizeof name, "run/tasks/train-0123456789abcdef.h5.tmp.%ld", (long)pid);
    assert_int_equal(bns_temp_is_stale(name), 1);
    snprintf(name, sizeof name, "cube.h5.tmp.%ld", (long)pid);
    assert_int_equal(bns_temp_is_stale(name), 1);
}

static void test_zombie_writer_is_stale(void **state) {
    (void)state;
    char name[512], host[128];
    my_host(host, sizeof host);
    pid_t pid = exited_child(1);
    temp_name(name, sizeof name, host, (long)pid);
    int stale = 0;
    for (int i = 0; i < 500 && !stale; i++) { /* until the child has exited: at most 5 s */
        stale = bns_temp_is_stale(name);
        if (!stale) nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    assert_int_equal(stale, 1);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(bns_temp_is_stale(name), 1);
}

static void test_other_hosts_are_kept(void **state) {
    (void)state;
    char name[512], host[128], other[160];
    my_host(host, sizeof host);
    pid_t dead = exited_child(0);
    snprintf(other, sizeof other, "%s-other", host);
    assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, other, (long)dead)), 0);
    assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, "node017", (long)dead)), 0);
    snprintf(other, sizeof other, "%.*s", (int)strlen(host) - 1, host); /* a prefix of ours */
    if (other[0]) assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, other, (long)dead)), 0);
}

static void test_malformed_names_are_kept(void **state) {
    (void)state;
    char name[512], host[128];
    my_host(host, sizeof host);
    long dead = (long)exited_child(0);
    char forms[][64] = {"%s.h5",          "%s.h5.tmp.",       "%s.h5.tmp.%s.",     "%s.h5.tmp.%s.12ab",
                        "%s.h5.tmp.x.%s", "%s.h5.tmp.%s..%ld", "%s.h5.tmp.a.%s.%ld", "%s.h5.tmp.%s.-%ld",
                        "%s.h5.tmp.%s.0", "%s.h5.tmp.%s.1",    "%s.h5.tmp.%s.12345678901",
                        "%s.h5.tmp.%s.%ld.old", "%s.h5.tmp%s.%ld", "%s.h5.tmp.%s.%ld "};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(name, sizeof name, forms[i], "eval", host, dead);
        if (bns_temp_is_stale(name)) fail_msg("\"%s\" was taken for a stale temporary", name);
    }
    const char *literal[] = {"", ".", ".tmp.", "tmp.5", ".h5.tmp.x y.5", "a.h5.tmp.-.", "a.h5.tmp..5"};
    for (size_t i = 0; i < sizeof literal / sizeof literal[0]; i++)
        if (bns_temp_is_stale(literal[i])) fail_msg("\"%s\" was taken for a stale temporary", literal[i]);
    /* the well-formed name of the same dead writer is stale */
    assert_int_equal(bns_temp_is_stale(temp_name(name, sizeof name, host, dead)), 1);
}

/* ---- locks ---- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* the scratch run.lock (absent) and this host's name */
static void lock_setup(char *path, size_t size, char *host, size_t host_size) {
    tmp_dir_setup("util-lock");
    tmp_path(path, size, "run.lock");
    unlink(path);
    my_host(host, host_size);
}

/* one holder at a time; the second is told who holds it; release is the holder's alone */
static void test_lock_is_exclusive(void **state) {
    (void)state;
    char path[4200], holder[256], host[128], want[256];
    lock_setup(path, sizeof path, host, sizeof host);
    assert_int_equal(bns_lock_holder(path, holder, sizeof holder), 0);
    assert_int_equal(bns_lock_acquire(path), 0);
    snprintf(want, sizeof want, "host %s, pid %ld", host, (long)getpid());
    assert_int_equal(bns_lock_holder(path, holder, sizeof holder), 1);
    assert_string_equal(holder, want);
    /* a child (another process of this host, alive) cannot take it */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = bns_lock_acquire(path);
        _exit(rc == -1 && strstr(bns_last_error(), want) && strstr(bns_last_error(), "run.lock") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* nor release it */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bns_lock_release(path);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(bns_lock_holder(path, holder, sizeof holder), 1);
    bns_lock_release(path);
    assert_int_equal(access(path, F_OK), -1);
}

/* a lock of a dead process of this host is taken over; another host's never */
static void test_lock_stale_and_other_host(void **state) {
    (void)state;
    char path[4200], holder[256], host[128], text[256];
    lock_setup(path, sizeof path, host, sizeof host);
    pid_t dead = exited_child(0);
    snprintf(text, sizeof text, "%s %ld\n", host, (long)dead);
    write_text(path, text);
    assert_int_equal(bns_lock_acquire(path), 0);
    bns_lock_release(path);
    write_text(path, text);
    assert_int_equal(bns_lock_holder(path, holder, sizeof holder), 0);
    assert_int_equal(access(path, F_OK), -1); /* removed as stale */
    snprintf(text, sizeof text, "%s-elsewhere %ld\n", host, (long)dead);
    write_text(path, text);
    assert_int_equal(bns_lock_acquire(path), -1);
    assert_non_null(strstr(bns_last_error(), "-elsewhere"));
    assert_int_equal(bns_lock_holder(path, holder, sizeof holder), 1);
    /* an unreadable holder is not taken for a dead one */
    write_text(path, "garbage\n");
    assert_int_equal(bns_lock_acquire(path), -1);
    assert_non_null(strstr(bns_last_error(), "unknown process"));
    unlink(path);
}

/* ---- the clock ---- */

static void test_clock_is_monotonic(void **state) {
    (void)state;
    double t0 = bns_now_seconds();
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    double t1 = bns_now_seconds();
    assert_true(t0 > 0);
    assert_true(t1 - t0 >= 0.019);
    assert_true(t1 - t0 < 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_temp_path_names_host_and_pid),
        cmocka_unit_test(test_temp_path_too_long_names_path),
        cmocka_unit_test(test_living_writers_are_kept),
        cmocka_unit_test(test_dead_writers_are_stale),
        cmocka_unit_test(test_zombie_writer_is_stale),
        cmocka_unit_test(test_other_hosts_are_kept),
        cmocka_unit_test(test_malformed_names_are_kept),
        cmocka_unit_test(test_clock_is_monotonic),
        cmocka_unit_test(test_lock_is_exclusive),
        cmocka_unit_test(test_lock_stale_and_other_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
