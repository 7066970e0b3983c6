/// Where an instance is in its life. Shown by the API and CLI.
public enum InstanceState: String, Sendable, Codable, CaseIterable {
    /// Configured but not enabled: the plugin is loaded and nothing runs.
    case available
    case starting
    case running
    /// Running, but the plugin's health probe reports a problem (the detail is in `lastError`).
    case degraded
    /// Failed and waiting for its backoff before the next start.
    case restarting
    /// Stopped by an operator or finished on its own.
    case stopped
    /// Gave up: a restart limit was reached, the policy is `never`, the config is invalid, or the
    /// plugin hung in stop. Needs an operator (`enable`, `restart` or `reconfigure`).
    case failed
}
