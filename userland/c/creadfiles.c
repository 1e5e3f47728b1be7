/* `creadfiles PATH...`: the C (wasi-libc) twin of readfiles.rs for the working-directory
 * tests. It prints what getcwd() reports, then for each PATH its first line or the error
 * opening it (strerror), as any wasi-libc program sees them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char cwd[256];
    if (getcwd(cwd, sizeof cwd))
        printf("cwd %s\n", cwd);
    else
        printf("cwd error %s\n", strerror(errno));
    for (int i = 1; i < argc; i++) {
        FILE *file = fopen(argv[i], "r");
        if (!file) {
            printf("%s: error %s\n", argv[i], strerror(errno));
            continue;
        }
        char line[128] = "";
        if (!fgets(line, sizeof line, file))
            line[0] = 0;
        line[strcspn(line, "\n")] = 0;
        printf("%s: %s\n", argv[i], line);
        fclose(file);
    }
    return 0;
}
