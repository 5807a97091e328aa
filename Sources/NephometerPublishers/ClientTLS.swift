import NIOSSL

/// The TLS client settings network publishers share (HTTP, the notification bus): verification on
/// unless turned off, an optional CA file, and an optional client certificate and key (PEM), loaded
/// here so that `validate` reports a file that cannot be read.
enum ClientTLS {
    /// `names` says which options the files came from, for the error (`clientcert/clientkey`).
    static func configuration(verify: Bool = true, caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil,
                              names: String) throws(PublisherURLError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !verify { tls.certificateVerification = .none }
        if let caFile { tls.trustRoots = .file(caFile) }
        if let certFile {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile ?? certFile, format: .pem))
            } catch {
                throw PublisherURLError("cannot load \(names) \(certFile): \(error)")
            }
        }
        return tls
    }
}
