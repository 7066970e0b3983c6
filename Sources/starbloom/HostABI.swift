import StarbloomCore

enum HostABI {
    static var description: String { ABIVersion.description }
}
