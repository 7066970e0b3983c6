#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The per-thread "last error" text behind `sb_host_api.last_error`.
///
/// Each thread that calls into the host gets one malloc'ed buffer (freed by the key's destructor when
/// the thread exits). The pointer handed to the plugin stays valid until that thread's next host call,
/// as the header promises.
enum ThreadLocalMessage {
    static let capacity = 1024

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in free(pointer) }
        return key
    }()

    private static func buffer() -> UnsafeMutablePointer<CChar> {
        if let existing = pthread_getspecific(key) {
            return existing.assumingMemoryBound(to: CChar.self)
        }
        let fresh = calloc(capacity, 1)!.assumingMemoryBound(to: CChar.self)
        pthread_setspecific(key, fresh)
        return fresh
    }

    static func set(_ message: String) {
        let target = buffer()
        var utf8 = Array(message.utf8.prefix(capacity - 1))
        utf8.append(0)
        utf8.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { chars in
                target.update(from: chars.baseAddress!, count: chars.count)
            }
        }
    }

    static func clear() {
        buffer().pointee = 0
    }

    static func current() -> UnsafePointer<CChar> {
        UnsafePointer(buffer())
    }
}
