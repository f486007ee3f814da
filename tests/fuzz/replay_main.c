/* replay_main.c - the main() of a fuzz harness built with the ordinary
 * compiler: runs LLVMFuzzerTestOneInput on every file of the directories
 * (or files) given, so ctest replays the seed corpus (and any crash a
 * fuzzing run saved there) on every build. Exit 0 when all ran. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bnnsweep/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* a harness may define it (libFuzzer calls it once, before any input) */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path) {
    size_t len;
    char *bytes = bns_read_file(path, &len);
    if (!bytes) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)bytes, len);
    free(bytes);
    return 0;
}

int main(int argc, char **argv) {
    int files = 0, bad = 0;
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= replay_file(argv[a]);
            files++;
            continue;
        }
        DIR *dir = opendir(argv[a]);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            bad |= replay_file(path);
            files++;
        }
        if (dir) closedir(dir);
    }
    printf("replayed %d inputs\n", files);
    return bad || files == 0 ? 1 : 0;
}
