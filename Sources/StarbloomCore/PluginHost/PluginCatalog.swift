import Foundation
import Logging

/// The plugins the host knows: scans directories for `.so` files, loads each new or changed file, and
/// keeps what it refused with the reason.
///
/// A file whose content changed is loaded again (from a new content-addressed copy) and replaces the
/// plugin of the same name for the *next* start of its instances; running instances keep their image.
/// `@unchecked Sendable`: all mutable state is guarded by `lock`.
public final class PluginCatalog: @unchecked Sendable {
    public struct Refusal: Sendable, Codable, Equatable {
        public let path: String
        public let reason: PluginLoadError.Reason
        public let message: String
    }

    public struct Scan: Sendable {
        public var loaded: [String] = []
        public var replaced: [String] = []
        public var refused: [Refusal] = []
    }

    /// Where to look: the operator's plugins directory (every `*.so`), and directories of bundled
    /// plugins (only files named `libsbplugin_*.so`, so that other libraries beside the host binary are
    /// not mistaken for plugins).
    public struct Directory: Sendable {
        public let path: String
        public let bundled: Bool
        public init(path: String, bundled: Bool) {
            self.path = path
            self.bundled = bundled
        }
    }

    let loader: PluginLoader
    let directories: [Directory]
    let logger: Logger
    private let lock = NSLock()
    private var pluginsByName: [String: LoadedPlugin] = [:]
    /// Path → content hash last seen there (loaded or refused), so an unchanged file is not reloaded.
    private var seen: [String: String] = [:]
    /// Path → (size, modification time) at the last look, so a periodic rescan does not read
    /// unchanged files at all.
    private var stamps: [String: FileStamp] = [:]

    struct FileStamp: Equatable {
        let size: Int
        let modified: Date
    }
    private var refusals: [String: Refusal] = [:]

    public init(loader: PluginLoader, directories: [Directory], logger: Logger) {
        self.loader = loader
        self.directories = directories
        self.logger = logger
    }

    public var plugins: [LoadedPlugin] {
        lock.lock()
        defer { lock.unlock() }
        return pluginsByName.values.sorted { $0.name < $1.name }
    }

    public var refused: [Refusal] {
        lock.lock()
        defer { lock.unlock() }
        return refusals.values.sorted { $0.path < $1.path }
    }

    public func plugin(named name: String) -> LoadedPlugin? {
        lock.lock()
        defer { lock.unlock() }
        return pluginsByName[name]
    }

    /// Looks at every candidate file; loads new and changed ones. Safe to call while instances run.
    @discardableResult
    public func rescan() -> Scan {
        var scan = Scan()
        for directory in directories {
            for path in candidates(in: directory) {
                load(path: path, into: &scan)
            }
        }
        return scan
    }

    private func load(path: String, into scan: inout Scan) {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = (attributes?[.size] as? Int).flatMap { size in
            (attributes?[.modificationDate] as? Date).map { FileStamp(size: size, modified: $0) }
        }
        lock.lock()
        let unchangedStamp = stamp != nil && stamps[path] == stamp
        if let stamp { stamps[path] = stamp }
        lock.unlock()
        if unchangedStamp { return }
        guard let data = FileManager.default.contents(atPath: path) else {
            record(refusal: Refusal(path: path, reason: .unreadable, message: "cannot read \(path)"), hash: nil, into: &scan)
            return
        }
        let hash = PluginLoader.contentHash(data)
        lock.lock()
        let unchanged = seen[path] == hash
        lock.unlock()
        if unchanged { return }

        let plugin: LoadedPlugin
        do {
            plugin = try loader.load(path: path)
        } catch {
            record(refusal: Refusal(path: path, reason: error.reason, message: error.message), hash: hash, into: &scan)
            return
        }
        lock.lock()
        if let existing = pluginsByName[plugin.name], existing.path != path {
            lock.unlock()
            let error = PluginLoadError.duplicate(path, name: plugin.name, existing: existing.path)
            record(refusal: Refusal(path: path, reason: error.reason, message: error.message), hash: hash, into: &scan)
            return
        }
        let replacing = pluginsByName[plugin.name] != nil
        // A file that now declares another name leaves its old name behind.
        for (name, old) in pluginsByName where old.path == path && name != plugin.name {
            pluginsByName.removeValue(forKey: name)
        }
        pluginsByName[plugin.name] = plugin
        seen[path] = hash
        refusals.removeValue(forKey: path)
        lock.unlock()
        if replacing {
            scan.replaced.append(plugin.name)
            logger.info("plugin replaced; instances pick it up on their next start",
                        metadata: ["plugin": "\(plugin.name)", "version": "\(plugin.version)", "path": "\(path)"])
        } else {
            scan.loaded.append(plugin.name)
            logger.info("plugin loaded", metadata: ["plugin": "\(plugin.name)", "version": "\(plugin.version)", "path": "\(path)"])
        }
    }

    private func record(refusal: Refusal, hash: String?, into scan: inout Scan) {
        lock.lock()
        refusals[refusal.path] = refusal
        if let hash { seen[refusal.path] = hash }
        lock.unlock()
        scan.refused.append(refusal)
        logger.warning("plugin refused", metadata: ["path": "\(refusal.path)", "reason": "\(refusal.message)"])
    }

    private func candidates(in directory: Directory) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.sorted().filter { name in
            guard name.hasSuffix(".so") else { return false }
            return !directory.bundled || name.hasPrefix("libsbplugin_")
        }.map { "\(directory.path)/\($0)" }
    }
}
