/* A freestanding module must not include a libc header. */
#include <stdio.h>
int fs_bad_header(void) { return (int)sizeof(FILE *); }
