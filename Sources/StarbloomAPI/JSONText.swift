/// Builds JSON text by hand for the hottest responses (a page of records), where Foundation's
/// `JSONEncoder` costs more than the read itself. Output matches `AdminRoutes.encoder`: sorted keys,
/// no escaped slashes; strings escaped per RFC 8259 (quote, backslash, control characters).
struct JSONText {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func number<T: BinaryInteger>(_ value: T) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `{"eventTimeNs":…,"headers":{…},"key":…,"offset":…,["partition":…,]"payload":…,"payloadEncoding":…,"topic":…}`
    mutating func record(_ view: RecordView, partition: Int? = nil) {
        raw("{\"eventTimeNs\":"); number(view.eventTimeNs)
        raw(",\"headers\":{")
        for (index, name) in view.headers.keys.sorted().enumerated() {
            if index > 0 { raw(",") }
            string(name); raw(":"); string(view.headers[name]!)
        }
        raw("},\"key\":"); string(view.key)
        raw(",\"offset\":"); number(view.offset)
        if let partition { raw(",\"partition\":"); number(partition) }
        raw(",\"payload\":"); string(view.payload)
        raw(",\"payloadEncoding\":"); string(view.payloadEncoding)
        raw(",\"topic\":"); string(view.topic)
        raw("}")
    }

    /// `{"next":…,"records":[…]}`
    static func recordPage(_ records: [RecordView], next: UInt64) -> [UInt8] {
        var json = JSONText(capacity: 128 + records.reduce(0) { $0 + $1.payload.utf8.count + 160 })
        json.raw("{\"next\":"); json.number(next)
        json.raw(",\"records\":[")
        for (index, record) in records.enumerated() {
            if index > 0 { json.raw(",") }
            json.record(record)
        }
        json.raw("]}")
        return json.bytes
    }
}
