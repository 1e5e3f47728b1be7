/* Traps two calls below main, for the test of backtraces of C programs: the frames must be
 * named from the `name` section clang writes (crash_here, through_here, main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* noinline: each function must stay a frame of its own at -O2. */
__attribute__((noinline)) static int crash_here(volatile int *where) {
    return *where; /* past the end of linear memory: an out-of-bounds trap */
}

__attribute__((noinline)) static int through_here(unsigned long address) {
    return crash_here((volatile int *)address) + 1;
}

int main(int argc, char **argv) {
    if (argc != 2 || strcmp(argv[1], "oob") != 0) {
        fprintf(stderr, "usage: ctrap oob\n");
        return 2;
    }
    int value = through_here(0xfffffff0ul);
    printf("read %d\n", value);
    fprintf(stderr, "ctrap: oob did not trap\n");
    return 1;
}
