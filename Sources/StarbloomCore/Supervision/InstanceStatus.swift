import Foundation

/// A snapshot of one instance for the API and CLI.
public struct InstanceStatus: Sendable, Codable, Equatable {
    public var name: String
    public var plugin: String
    public var pluginVersion: String?
    public var enabled: Bool
    public var state: InstanceState
    public var lastError: String?
    /// Restarts since the host started (by policy, not by operators).
    public var restarts: Int
    public var stateSince: Date
    public var recordsIn: UInt64
    public var recordsOut: UInt64
    public var errors: UInt64
}
