/// A minimal XML element tree for libvirt's domain XML and Nova's metadata.
///
/// Names are local names (namespace prefixes dropped), which is how Ceilometer matches Nova's metadata.
/// Supports elements, attributes, text, the five entities and character references, comments, CDATA,
/// processing instructions and a DOCTYPE; rejects malformed input with a message.
public final class XMLElement: Sendable {
    public let name: String
    public let attributes: [String: String]
    public let children: [XMLElement]
    public let text: String

    init(name: String, attributes: [String: String], children: [XMLElement], text: String) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The first child element with this local name.
    public func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }
    public func children(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }

    /// Follows a `/`-separated path of child names (`owner/user`).
    public func find(_ path: String) -> XMLElement? {
        var cur: XMLElement? = self
        for part in path.split(separator: "/") { cur = cur?.child(String(part)) }
        return cur
    }

    public subscript(attribute: String) -> String? { attributes[attribute] }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let offset: Int
        public let message: String
        public var description: String { "XML error at byte \(offset): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> XMLElement {
        var p = XMLParser(Array(text.utf8))
        return try p.document()
    }
}

private struct XMLParser {
    let b: [UInt8]
    var i = 0
    init(_ b: [UInt8]) { self.b = b }

    func fail(_ m: String) -> XMLElement.ParseError { XMLElement.ParseError(offset: i, message: m) }

    mutating func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }

    func starts(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return i + u.count <= b.count && b[i..<i + u.count].elementsEqual(u)
    }

    mutating func skipPast(_ s: String) throws(XMLElement.ParseError) {
        let u = Array(s.utf8)
        while i + u.count <= b.count {
            if b[i..<i + u.count].elementsEqual(u) { i += u.count; return }
            i += 1
        }
        throw fail("unterminated construct, expected '\(s)'")
    }

    mutating func skipMisc() throws(XMLElement.ParseError) {
        while true {
            skipSpace()
            if starts("<?") { try skipPast("?>") }
            else if starts("<!--") { try skipPast("-->") }
            else if starts("<!DOCTYPE") { try skipPast(">") }
            else { return }
        }
    }

    mutating func document() throws(XMLElement.ParseError) -> XMLElement {
        if starts("\u{FEFF}") { i += 3 }
        try skipMisc()
        guard i < b.count, b[i] == UInt8(ascii: "<") else { throw fail("expected a root element") }
        let root = try element(depth: 0)
        try skipMisc()
        guard i == b.count else { throw fail("content after the root element") }
        return root
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        c >= 0x80 || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
    }

    mutating func name() throws(XMLElement.ParseError) -> String {
        let start = i
        while i < b.count, Self.isNameByte(b[i]) { i += 1 }
        guard i > start else { throw fail("expected a name") }
        let full = String(decoding: b[start..<i], as: UTF8.self)
        if let colon = full.lastIndex(of: ":") { return String(full[full.index(after: colon)...]) }
        return full
    }

    mutating func decode(_ slice: ArraySlice<UInt8>) throws(XMLElement.ParseError) -> String {
        guard slice.contains(UInt8(ascii: "&")) else { return String(decoding: slice, as: UTF8.self) }
        var out: [UInt8] = []
        var k = slice.startIndex
        while k < slice.endIndex {
            let c = slice[k]
            guard c == UInt8(ascii: "&") else { out.append(c); k += 1; continue }
            guard let semi = slice[k...].firstIndex(of: UInt8(ascii: ";")), semi - k <= 10 else { throw fail("bad entity") }
            let ent = String(decoding: slice[(k + 1)..<semi], as: UTF8.self)
            switch ent {
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "amp": out.append(UInt8(ascii: "&"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                var code: UInt32?
                if ent.hasPrefix("#x") { code = UInt32(ent.dropFirst(2), radix: 16) }
                else if ent.hasPrefix("#") { code = UInt32(ent.dropFirst(1)) }
                guard let code, let scalar = Unicode.Scalar(code) else { throw fail("unknown entity '&\(ent);'") }
                out.append(contentsOf: String(scalar).utf8)
            }
            k = semi + 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func element(depth: Int) throws(XMLElement.ParseError) -> XMLElement {
        guard depth < 256 else { throw fail("elements nested too deeply") }
        i += 1  // '<'
        let tag = try name()
        var attrs: [String: String] = [:]
        while true {
            skipSpace()
            guard i < b.count else { throw fail("unterminated start tag <\(tag)>") }
            if b[i] == UInt8(ascii: "/") {
                guard i + 1 < b.count, b[i + 1] == UInt8(ascii: ">") else { throw fail("expected '/>'") }
                i += 2
                return XMLElement(name: tag, attributes: attrs, children: [], text: "")
            }
            if b[i] == UInt8(ascii: ">") { i += 1; break }
            let attr = try name()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "=") else { throw fail("expected '=' after attribute \(attr)") }
            i += 1
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") else { throw fail("expected a quoted value") }
            let q = b[i]
            i += 1
            let start = i
            while i < b.count, b[i] != q { i += 1 }
            guard i < b.count else { throw fail("unterminated attribute value") }
            let v = try decode(b[start..<i])
            i += 1
            if attr != "xmlns" { attrs[attr] = v }
        }
        var children: [XMLElement] = []
        var text: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("unterminated element <\(tag)>") }
            if b[i] == UInt8(ascii: "<") {
                if starts("</") {
                    i += 2
                    let end = try name()
                    guard end == tag else { throw fail("mismatched end tag </\(end)> for <\(tag)>") }
                    skipSpace()
                    guard i < b.count, b[i] == UInt8(ascii: ">") else { throw fail("expected '>'") }
                    i += 1
                    let t = try decode(text[...])
                    return XMLElement(name: tag, attributes: attrs, children: children, text: t)
                } else if starts("<!--") {
                    try skipPast("-->")
                } else if starts("<![CDATA[") {
                    i += 9
                    let start = i
                    try skipPast("]]>")
                    // CDATA is literal: escape '&' so decode() leaves it as written.
                    for c in b[start..<(i - 3)] {
                        if c == UInt8(ascii: "&") { text.append(contentsOf: "&amp;".utf8) } else { text.append(c) }
                    }
                } else if starts("<?") {
                    try skipPast("?>")
                } else {
                    children.append(try element(depth: depth + 1))
                }
            } else {
                text.append(b[i])
                i += 1
            }
        }
    }
}
