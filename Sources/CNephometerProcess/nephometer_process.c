#include <malloc.h>
#include "nephometer_process.h"

int nephometer_malloc_arena_max(int n) {
#ifdef M_ARENA_MAX
    return mallopt(M_ARENA_MAX, n);
#else
    (void)n;
    return 0;
#endif
}
