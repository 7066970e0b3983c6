import Foundation
import Testing
@testable import StarbloomCore

@Suite("API keys")
struct APIKeyTests {
    @Test("SHA-256 matches the NIST vectors")
    func sha256Vectors() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("a created key verifies; a wrong secret, a malformed token and a revoked key do not; secrets are not stored")
    func lifecycle() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = try SQLiteStateStore(path: "\(directory)/state.db")
        let keys = APIKeyStore(stateStore: state)
        #expect(keys.isEmpty)
        let (key, token) = try keys.create(name: "ingest", role: .writer, topics: ["orders.>"], ratePerSecond: 10, burst: 20)
        #expect(keys.verify(token: token) == key)
        #expect(key.allows(topic: "orders.created") && !key.allows(topic: "users.created"))
        var wrong = Array(token)
        wrong[wrong.count - 1] = wrong.last == "A" ? "B" : "A"
        #expect(keys.verify(token: String(wrong)) == nil)
        for malformed in ["", "sbk_", "sbk_123_x", "Bearer \(token)", "sbk_\(key.id)_", token + String(repeating: "x", count: 100)] {
            #expect(keys.verify(token: malformed) == nil, "\(malformed)")
        }
        let secret = String(token.split(separator: "_", maxSplits: 2)[2])
        let file = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/state.db"))
        #expect(file.range(of: Data(secret.utf8)) == nil, "the secret itself is never written")
        #expect(keys.list().map(\.name) == ["ingest"])
        try keys.revoke(id: key.id)
        #expect(keys.verify(token: token) == nil)
        #expect(keys.list().isEmpty)
        #expect(throws: StoreError.self) { try keys.revoke(id: key.id) }
        #expect(throws: StoreError.self) { try keys.create(name: "x", role: .reader, topics: ["bad..pattern"]) }
        #expect(throws: StoreError.self) { try keys.create(name: "x", role: .reader, ratePerSecond: 0) }
        #expect(throws: StoreError.self) { try keys.create(name: "", role: .reader) }
        #expect(APIRole.reader < .writer && APIRole.writer < .admin)
    }
}
