/* Only the four allowed headers and memcpy/memset: accepted. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
uint64_t fs_good(uint64_t *p) { memset(p, 0, 8); return atomic_load((_Atomic uint64_t *)p); }
