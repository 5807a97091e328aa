import CNetSNMP

/// Conversions between net-snmp PDUs and Swift values (engine thread only).
enum PDU {
    static func make(_ command: Int32, _ oids: [OID]) -> UnsafeMutablePointer<netsnmp_pdu>? {
        guard let pdu = snmp_pdu_create(command) else { return nil }
        for o in oids {
            o.withUnsafeBufferPointer { b in _ = snmp_add_null_var(pdu, b.baseAddress, b.count) }
        }
        return pdu
    }

    static func varbinds(_ pdu: UnsafeMutablePointer<netsnmp_pdu>) -> [(OID, SNMPValue)] {
        var out: [(OID, SNMPValue)] = []
        var next = pdu.pointee.variables
        while let v = next {
            let vb = v.pointee
            let name = vb.name.map { Array(UnsafeBufferPointer(start: $0, count: vb.name_length)) } ?? []
            out.append((name, value(vb)))
            next = vb.next_variable
        }
        return out
    }

    static func value(_ vb: netsnmp_variable_list) -> SNMPValue {
        let type = Int32(vb.type)
        func bytes() -> [UInt8] {
            guard let p = vb.val.string, vb.val_len > 0 else { return [] }
            return Array(UnsafeBufferPointer(start: p, count: vb.val_len))
        }
        func int() -> Int { vb.val.integer?.pointee ?? 0 }
        switch type {
        case SHIM_ASN_INTEGER: return .integer(Int64(int()))
        case SHIM_ASN_OCTET_STR: return .string(bytes())
        case SHIM_ASN_IPADDRESS: return .ipAddress(bytes())
        case SHIM_ASN_COUNTER: return .counter32(UInt32(truncatingIfNeeded: int()))
        case SHIM_ASN_GAUGE: return .gauge32(UInt32(truncatingIfNeeded: int()))
        case SHIM_ASN_TIMETICKS: return .timeTicks(UInt32(truncatingIfNeeded: int()))
        case SHIM_ASN_COUNTER64:
            guard let c = vb.val.counter64?.pointee else { return .null }
            return .counter64(UInt64(c.high & 0xFFFF_FFFF) << 32 | UInt64(c.low & 0xFFFF_FFFF))
        case SHIM_ASN_OBJECT_ID:
            guard let p = vb.val.objid else { return .objectID([]) }
            return .objectID(Array(UnsafeBufferPointer(start: p, count: vb.val_len / MemoryLayout<oid>.size)))
        case SHIM_ASN_OPAQUE: return .opaque(bytes())
        case SHIM_SNMP_NOSUCHOBJECT: return .noSuchObject
        case SHIM_SNMP_NOSUCHINSTANCE: return .noSuchInstance
        case SHIM_SNMP_ENDOFMIBVIEW: return .endOfMibView
        default: return .null
        }
    }

    static func errorString(status: Int) -> String {
        snmp_errstring(Int32(status)).map { String(cString: $0) } ?? "error \(status)"
    }

    static func apiErrorString(_ code: Int32) -> String {
        snmp_api_errstring(code).map { String(cString: $0) } ?? "error \(code)"
    }
}
