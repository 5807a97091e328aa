import NephometerHardware
import Testing

@Suite struct TargetURLTests {
    @Test func noCredentialsIsV2cPublic() throws {
        let t = try SNMPTarget(url: "snmp://10.0.0.5")
        #expect(t.version == .v2c && t.community == "public" && t.port == 161 && t.resourceID == "10.0.0.5")
        #expect(t.timeout == 1 && t.retries == 2)
    }

    @Test func userAloneIsTheCommunity() throws {
        let t = try SNMPTarget(url: "snmp://s3cret@host-1.example:1161?timeout=0.5&retries=0")
        #expect(t.version == .v2c && t.community == "s3cret" && t.port == 1161 && t.timeout == 0.5 && t.retries == 0)
        #expect(t.withoutCredentials == "snmp://host-1.example:1161?timeout=0.5&retries=0")
        #expect(t.redacted == "snmp://***@host-1.example:1161?timeout=0.5&retries=0")
    }

    @Test func v3AuthPriv() throws {
        let t = try SNMPTarget(url: "snmp://admin:auth%40pass1@[fe80::1]:16100?auth_proto=sha256&priv_proto=aes256&priv_password=privpass1&context=ctx")
        #expect(t.version == .v3 && t.user == "admin" && t.authPassword == "auth@pass1")
        #expect(t.authProtocol == .sha256 && t.privProtocol == .aes256 && t.privPassword == "privpass1" && t.context == "ctx")
        #expect(t.host == "fe80::1" && t.port == 16100 && t.resourceID == "fe80::1")
        #expect(t.withoutCredentials == "snmp://[fe80::1]:16100?auth_proto=sha256&priv_proto=aes256&context=ctx")
        #expect(t.redacted == "snmp://admin:***@[fe80::1]:16100?auth_proto=sha256&priv_proto=aes256&priv_password=***&context=ctx")
    }

    @Test func v3DefaultsAreCeilometers() throws {
        // Ceilometer (pysnmp) used MD5 for a bare password and DES for a bare priv_password.
        let t = try SNMPTarget(url: "snmp://ro_snmp_user:password@10.0.0.1?priv_password=privpassword")
        #expect(t.version == .v3 && t.authProtocol == .md5 && t.privProtocol == .des)
        let v1 = try SNMPTarget(url: "snmp://comm@10.0.0.1?version=1")
        #expect(v1.version == .v1 && v1.community == "comm")
        let noauth = try SNMPTarget(url: "snmp://monitor@10.0.0.1?version=3")
        #expect(noauth.version == .v3 && noauth.authProtocol == nil && noauth.user == "monitor")
    }

    @Test(arguments: [
        ("http://10.0.0.1", "scheme"),
        ("snmp://", "no host"),
        ("snmp://u:topsecret1@h:99999", "port"),
        ("snmp://u:topsecret1@h?auth_proto=sha1024", "auth_proto"),
        ("snmp://u:topsecret1@h?priv_proto=rot13&priv_password=topsecret2", "priv_proto"),
        ("snmp://u:topsecret1@h?priv_pasword=topsecret2", "unknown option"),
        ("snmp://u:pw12@h", "shorter than 8"),
        ("snmp://u@h?priv_proto=aes&priv_password=topsecret2", "privacy needs authentication"),
        ("snmp://u:topsecret1@h?version=2c", "need version 3"),
        ("snmp://u:topsecret1@h?timeout=abc", "timeout"),
        ("snmp://u:topsecret1@h/path", "path"),
    ])
    func badURLsGiveClearRedactedErrors(url: String, reason: String) {
        do {
            _ = try SNMPTarget(url: url)
            Issue.record("\(url) was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains(reason), "\(text)")
            #expect(text.hasPrefix("invalid SNMP resource snmp://") || url.hasPrefix("http"))
            for secret in ["topsecret1", "topsecret2", "pw12"] where url.contains(secret) {
                #expect(!text.contains(secret), "\(text) leaks a password")
            }
        }
    }
}

@Suite struct CounterWrapTests {
    @Test func a32BitWrapKeepsRising() {
        var e = CounterExtender()
        let key: OID = [1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 4]
        #expect(e.extend(key, 4_294_967_000) == 4_294_967_000)
        #expect(e.extend(key, 4_294_967_295) == 4_294_967_295)
        #expect(e.extend(key, 100) == 4_294_967_396, "wrapped: 2^32 + 100")
        #expect(e.extend(key, 5_000) == 4_294_972_296)
        #expect(e.extend(key, 10) == 8_589_934_602, "second wrap")
    }

    @Test func countersAreIndependentAndResettable() {
        var e = CounterExtender()
        let a: OID = [1, 3, 1], b: OID = [1, 3, 2]
        _ = e.extend(a, 1_000)
        _ = e.extend(b, 50)
        #expect(e.extend(a, 10) == 4_294_967_306)
        #expect(e.extend(b, 60) == 60)
        e.reset()
        #expect(e.extend(a, 5) == 5, "after an agent restart values start again")
        #expect(e.count == 1)
    }
}
