import Testing
@testable import EVMABI

@Suite("Keccak-256")
struct KeccakTests {
    @Test("matches the published vectors for the empty string, abc and event signatures")
    func publishedVectors() {
        #expect(hex(Keccak256.hash([])) == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(hex(Keccak256.hash("abc")) == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        #expect(hex(Keccak256.hash("Transfer(address,address,uint256)"))
                == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
        #expect(hex(Keccak256.hash("Approval(address,address,uint256)"))
                == "8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925")
        #expect(hex(Keccak256.hash("Swap(address,uint256,uint256,uint256,uint256,address)"))
                == "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822")
    }

    /// Expected values from pycryptodome's keccak (digest_bits=256) over bytes i % 251.
    static let lengthVectors: [(Int, String)] = [
        (135, "cbdfd9dee5faad3818d6b06f95a219fd290b0e1706f6a82e5a595b9ce9faca62"),
        (136, "7ce759f1ab7f9ce437719970c26b0a66ff11fe3e38e17df89cf5d29c7d7f807e"),
        (137, "ac73d4fae68b8453f764007c1a20ce95994187861f0c3227a3a8e99a73a3b1db"),
        (272, "8e2476e65823b24d96ebe239f2c1534cdf763e689e2410c3b1cb0c74e6177bfc"),
        (1000, "af692982e84a5a9688359025660a7857cd28ee7c8d867cfa1677baf2e6d1f63b"),
    ]

    @Test("inputs around and across the 136-byte rate match pycryptodome, one-shot and streamed")
    func rateBoundaries() {
        for (length, expected) in Self.lengthVectors {
            let input = (0..<length).map { UInt8($0 % 251) }
            #expect(hex(Keccak256.hash(input)) == expected, "length \(length)")
            for chunk in [1, 7, 135, 136, 137, 500] {
                var hasher = Keccak256()
                var start = 0
                while start < input.count {
                    let end = min(start + chunk, input.count)
                    hasher.update(Array(input[start..<end]))
                    start = end
                }
                #expect(hex(hasher.finalize()) == expected, "length \(length) in chunks of \(chunk)")
            }
        }
    }

    @Test("a million 'a' bytes match pycryptodome")
    func millionA() {
        #expect(hex(Keccak256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
                == "fadae6b49f129bbb812be8407b7b2894f34aecf6dbd1f9b0f0c7e9853098fc96")
    }

    @Test("finalize leaves the hasher usable: it digests everything absorbed so far")
    func finalizeIsASnapshot() {
        var hasher = Keccak256()
        hasher.update(Array("Transfer(".utf8))
        _ = hasher.finalize()
        hasher.update(Array("address,address,uint256)".utf8))
        #expect(hex(hasher.finalize()) == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
        #expect(hasher.finalize() == hasher.finalize())
    }
}
