import CNephometerProcess
#if canImport(Glibc)
import Glibc
#endif

/// glibc gives every thread that allocates an arena of its own, up to 8 per core; libvirt's calls
/// run on libdispatch threads that come and go, so a compute agent's heap was spread over a dozen
/// arenas, each keeping freed memory (RSS 30–50 MiB above what it used). Two arenas (one per core here)
/// hold the same data. An operator's `MALLOC_ARENA_MAX` wins.
public enum MallocArenas {
    public static func limit(_ n: Int32 = 2) {
        #if canImport(Glibc)
        if getenv("MALLOC_ARENA_MAX") == nil { _ = nephometer_malloc_arena_max(n) }
        #endif
    }
}
