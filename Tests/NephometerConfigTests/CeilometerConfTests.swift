import Foundation
import NephometerConfig
import NephometerCore
import Testing
import TestSupport

/// An operator's ceilometer.conf: the keys Nephometer uses, positioned errors for bad values in
/// them, everything else ignored, and nephometer.yaml and flags over it.
@Suite struct CeilometerConfTests {
    let dir = TemporaryDirectory("ceilometer-conf")

    func load(_ conf: String, yaml: String? = nil, overrides: ConfigOverrides = ConfigOverrides()) throws -> Result<LoadedConfig, ConfigErrors> {
        let file = try dir.write("ceilometer.conf", conf)
        _ = try dir.write("polling.yaml", "sources:\n  - {name: s, interval: 60, meters: [cpu]}\n")
        var o = overrides
        o.ceilometerConfig = file
        let agentFile = try yaml.map { try dir.write("nephometer.yaml", $0) }
        return ConfigLoader.load(agentConfigFile: agentFile, overrides: o)
    }

    static let computeNode = """
        [DEFAULT]
        # A Ceilometer 27 compute node's file has hundreds of keys; these are a few we ignore.
        debug = True
        log_dir = /var/log/ceilometer
        transport_url = rabbit://ceilometer:s3cret@ctl1:5672,ceilometer:s3cret@ctl2:5672/
        host = compute-7
        libvirt_uri = qemu+tcp://127.0.0.1/system
        [compute]
        instance_discovery_method = libvirt_metadata
        [coordination]
        backend_url = etcd3+http://ctl1:2379
        [polling]
        batch_size = 25
        heartbeat_socket_dir = /run/ceilometer
        [publisher]
        telemetry_secret = secret-from-conf
        [oslo_messaging_notifications]
        driver = messagingv2
        topics = notifications, notifications_bis
        [oslo_messaging_rabbit]
        amqp_durable_queues = true
        rabbit_quorum_queue = yes
        heartbeat_timeout_threshold = 30
        [service_credentials]
        auth_type = password
        password = keystone-secret
          continued on the next line
        """

    @Test func aComputeNodesFileSetsWhatNephometerUses() throws {
        let c = try load(Self.computeNode).get().agent
        #expect(c.host == "compute-7")
        #expect(c.telemetrySecret == "secret-from-conf")
        #expect(c.batchSize == 25 && c.messaging.batchSize == 25)
        #expect(c.messaging.transportURL == "rabbit://ceilometer:s3cret@ctl1:5672,ceilometer:s3cret@ctl2:5672/")
        #expect(c.messaging.topics == ["notifications", "notifications_bis"])
        #expect(c.messaging.durableQueues && c.messaging.quorumQueues && c.messaging.durable)
        #expect(c.messaging.heartbeat == 30)
        #expect(c.coordinationURL == "etcd3+http://ctl1:2379")
        #expect(c.libvirtURI == "qemu+tcp://127.0.0.1/system")
        #expect(c.heartbeatSocketDirectory == "/run/ceilometer")
        #expect(c.pollingFile == dir.file("polling.yaml"), "the default polling.yaml next to ceilometer.conf")
    }

    @Test func nephometerYAMLAndFlagsOverrideIt() throws {
        var o = ConfigOverrides(host: "from-flag")
        o.transportURL = "rabbit://u:p@other:5672/"
        let c = try load(Self.computeNode, yaml: "publisher: {telemetry_secret: from-yaml}\nmessaging: {topics: [mine]}\n", overrides: o).get().agent
        #expect(c.host == "from-flag")
        #expect(c.telemetrySecret == "from-yaml")
        #expect(c.messaging.topics == ["mine"])
        #expect(c.messaging.transportURL == "rabbit://u:p@other:5672/")
        #expect(c.messaging.durableQueues, "what YAML does not set stays as ceilometer.conf says")
    }

    @Test(arguments: [
        ("[polling]\nbatch_size = lots\n", 2, "[polling] batch_size", "expected an integer"),
        ("[polling]\nenable_notifications = maybe\n", 2, "[polling] enable_notifications", "expected a boolean"),
        ("[DEFAULT]\n\n[oslo_messaging_rabbit]\nheartbeat_timeout_threshold = -5\n", 4, "[oslo_messaging_rabbit] heartbeat_timeout_threshold", "from 0 to 3600"),
        ("[oslo_messaging_notifications]\ndriver = kafka\n", 2, "[oslo_messaging_notifications] driver", "unknown notification driver 'kafka'"),
        ("[polling]\nprometheus_listen_addresses = 127.0.0.1:9101, nonsense\n", 2, "[polling] prometheus_listen_addresses", "expected host:port"),
        ("transport_url = x\n", 1, "", "a key before any [section]"),
        ("[DEFAULT\n", 1, "", "section header"),
    ])
    func aBadValueInAKeyWeUseIsAPositionedError(conf: String, line: Int, key: String, message: String) throws {
        guard case .failure(let e) = try load(conf) else { Issue.record("accepted: \(conf)"); return }
        let first = try #require(e.errors.first)
        #expect(first.file == dir.file("ceilometer.conf"))
        #expect(first.line == line, "\(first)")
        #expect(first.keyPath == key, "\(first)")
        #expect(first.message.contains(message), "\(first)")
    }

    @Test func aBadTransportURLIsAnErrorAtItsLine() throws {
        let file = try dir.write("ceilometer.conf", "[DEFAULT]\ndebug = true\ntransport_url = kafka://h:9092\n")
        _ = try dir.write("polling.yaml", "sources:\n  - {name: s, interval: 60, meters: [cpu]}\n")
        let r = try Command.nephometer(["validate", "--ceilometer-config", file], directory: dir.path)
        #expect(r.status == 1)
        #expect(r.stdout.contains("\(file):3:17: messaging.transport_url: transport URL scheme 'kafka://' is not supported"), "\(r.stdout)")
    }

    /// As Ceilometer, the exporter's TLS needs both files; each is read by `validate`, and a problem is
    /// reported at `prometheus_tls_enable`.
    @Test func theExportersTLSNeedsBothFilesAndReadsThem() throws {
        _ = try dir.write("polling.yaml", "sources:\n  - {name: s, interval: 60, meters: [cpu]}\n")
        let head = "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\n[polling]\n"
        let base = head + "enable_prometheus_exporter = true\nprometheus_tls_enable = true\n"
        /// `validate` of a ceilometer.conf; (its path, the result).
        func validate(_ name: String, _ conf: String) throws -> (file: String, result: CommandResult) {
            let file = try dir.write(name, conf)
            return (file, try Command.nephometer(["validate", "--ceilometer-config", file], directory: dir.path))
        }
        let noKey = try validate("no-key.conf", base + "prometheus_tls_certfile = /etc/ssl/certs/ca-certificates.crt\n")
        #expect(noKey.result.status == 1)
        #expect(noKey.result.stdout.contains("\(noKey.file):5:25: polling.prometheus_tls_enable: prometheus_tls_enable is true but prometheus_tls_certfile and prometheus_tls_keyfile are not both set"), "\(noKey.result.stdout)")
        let missing = try validate("missing.conf", base + "prometheus_tls_certfile = nowhere/cert.pem\nprometheus_tls_keyfile = nowhere/key.pem\n")
        #expect(missing.result.status == 1)
        #expect(missing.result.stdout.contains("\(missing.file):5:25: polling.prometheus_tls_enable: cannot load the exporter's certificate (prometheus_tls_certfile) \(dir.path)/nowhere/cert.pem"), "\(missing.result.stdout)")
        // A key that is not the certificate's.
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-days", "1"]
        let made = try Command.run("openssl", ["req", "-x509"] + ec + ["-keyout", dir.file("a.key"), "-out", dir.file("a.pem")])
        let other = try Command.run("openssl", ["req", "-x509"] + ec + ["-keyout", dir.file("b.key"), "-out", dir.file("b.pem")])
        #expect(made.status == 0 && other.status == 0, "\(made.stderr)\(other.stderr)")
        let mismatch = try validate("mismatch.conf", base + "prometheus_tls_certfile = a.pem\nprometheus_tls_keyfile = b.key\n")
        #expect(mismatch.result.status == 1)
        #expect(mismatch.result.stdout.contains("\(mismatch.file):5:25: polling.prometheus_tls_enable: prometheus_tls_certfile \(dir.path)/a.pem and prometheus_tls_keyfile \(dir.path)/b.key do not make a TLS server"), "\(mismatch.result.stdout)")
        let matching = try validate("matching.conf", base + "prometheus_tls_certfile = a.pem\nprometheus_tls_keyfile = a.key\n")
        #expect(matching.result.status == 0, "\(matching.result.stdout)\(matching.result.stderr)")
        // Without the exporter the TLS keys are not used, as in Ceilometer.
        let off = try validate("off.conf", head + "enable_prometheus_exporter = false\nprometheus_tls_enable = true\n")
        #expect(off.result.status == 0, "\(off.result.stdout)\(off.result.stderr)")
    }

    @Test func withTheBusAndNoPipelineYAMLThereIsNoPipelineAsInCeilometerPolling() throws {
        let loaded = try load("[DEFAULT]\ntransport_url = rabbit://u:p@h:5672/\n").get()
        #expect(loaded.pipeline.sinks.isEmpty)
        // Named explicitly, a missing pipeline.yaml is still an error.
        let named = try load("[DEFAULT]\ntransport_url = rabbit://u:p@h:5672/\n", overrides: ConfigOverrides(pipelineFile: dir.file("missing.yaml")))
        guard case .failure = named else { Issue.record("a named, missing pipeline.yaml was accepted"); return }
    }
}
