/*
 * Replays fuzz inputs without libFuzzer: every file named on the command
 * line, or in a directory named there, is handed once to the harness it is
 * linked with; "--prefix N" puts byte N before the files that follow (the
 * harnesses read their mode from the first byte, so the fixtures of
 * tests/data serve as seeds as they are). Built with the normal compiler (and with ASan+UBSan in the
 * sanitizer build), so CI runs the corpora on every change.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int prefix = -1;

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    if (buf && prefix >= 0)
        buf[n++] = (uint8_t)prefix;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                break;
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 1;
}

static int run(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        int r = run(p);
        if (r < 0) {
            closedir(d);
            return -1;
        }
        total += r;
    }
    closedir(d);
    return total;
}

int main(int argc, char **argv) {
    int total = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
            prefix = (int)strtol(argv[++i], NULL, 10) & 255;
            continue;
        }
        int r = run(argv[i]);
        if (r < 0)
            return 1;
        total += r;
    }
    printf("replayed %d input(s)\n", total);
    return total > 0 ? 0 : 1;
}
