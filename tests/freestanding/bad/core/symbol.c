/* ...nor call a libc function it declares itself. */
void *malloc(unsigned long size);
void *fs_bad_symbol(void) { return malloc(4); }
