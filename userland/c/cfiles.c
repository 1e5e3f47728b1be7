/* A C (wasi-libc) program exercising the file system through POSIX calls, for the tests.
 * In the directory given as argv[1] it reads `input.txt`, writes its lines reversed and
 * numbered to `output.txt`, makes `made/deeper`, renames `old-name` to `new-name`, removes
 * `remove-me`, and prints a sorted listing with sizes. Any failure prints the call and errno
 * and exits 1. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINES 64
#define MAX_ENTRIES 64

static void fail(const char *what, const char *path) {
    printf("error: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static int compare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: cfiles DIR\n");
        return 2;
    }
    if (chdir(argv[1]) != 0) fail("chdir", argv[1]);

    FILE *in = fopen("input.txt", "r");
    if (!in) fail("fopen", "input.txt");
    char *lines[MAX_LINES];
    int count = 0;
    char buf[256];
    while (count < MAX_LINES && fgets(buf, sizeof buf, in)) lines[count++] = strdup(buf);
    fclose(in);

    FILE *out = fopen("output.txt", "w");
    if (!out) fail("fopen", "output.txt");
    for (int i = count - 1; i >= 0; i--) fprintf(out, "%d: %s", count - i, lines[i]);
    if (fclose(out) != 0) fail("fclose", "output.txt");

    if (mkdir("made", 0755) != 0) fail("mkdir", "made");
    if (mkdir("made/deeper", 0755) != 0) fail("mkdir", "made/deeper");
    if (rename("old-name", "new-name") != 0) fail("rename", "old-name");
    if (unlink("remove-me") != 0) fail("unlink", "remove-me");
    if (unlink("made") == 0 || (errno != EISDIR && errno != EPERM)) fail("unlink of a directory succeeded or", "made");

    DIR *dir = opendir(".");
    if (!dir) fail("opendir", ".");
    char *names[MAX_ENTRIES];
    int entries = 0;
    struct dirent *entry;
    while (entries < MAX_ENTRIES && (entry = readdir(dir))) {
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) names[entries++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, entries, sizeof names[0], compare);
    for (int i = 0; i < entries; i++) {
        struct stat st;
        if (lstat(names[i], &st) != 0) fail("lstat", names[i]);
        printf("%s %s %lld\n", S_ISDIR(st.st_mode) ? "dir" : "file", names[i],
               S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
    }
    return 0;
}
