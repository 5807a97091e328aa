#ifndef NEPHOMETER_PROCESS_H
#define NEPHOMETER_PROCESS_H
/* Process-wide settings glibc exposes only through headers Swift's Glibc module leaves out. */

/* mallopt(M_ARENA_MAX, n): at most n malloc arenas. Returns 1 on success. */
int nephometer_malloc_arena_max(int n);
#endif
