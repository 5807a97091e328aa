import Logging
import NephometerCore

/// Creates publishers from pipeline.yaml URLs.
public enum PublisherFactory {
    /// Schemes Nephometer implements.
    public static let implemented = ["file", "udp", "http", "https"]
    /// Ceilometer publisher schemes Nephometer does not implement (yet): a warning, and skipped at run
    /// time, as Ceilometer skips publishers it cannot load.
    public static let recognized = ["gnocchi", "notifier", "prometheus", "zaqar", "opentelemetryhttp", "tcp",
                                    "test", "kafka", "direct", "database", "panko", "monasca"]

    public enum Outcome {
        case publisher(any Publisher)
        /// Known Ceilometer scheme we skip, with the reason.
        case skipped(String)
    }

    /// Checks a URL without creating anything: throws for unknown schemes and bad options.
    public static func check(_ url: PublisherURL) throws(PublisherURLError) {
        switch url.scheme {
        case "file": _ = try FilePublisher.parse(url)
        case "udp": _ = try UDPPublisher.parse(url)
        case "http", "https": _ = try HTTPTransport.tls(try HTTPPublisherOptions(url))
        default:
            if recognized.contains(url.scheme) { return }
            throw unknownScheme(url)
        }
    }

    /// Why a URL's publisher is skipped at run time, or nil when it is implemented.
    public static func skipReason(_ raw: String) -> String? {
        guard let url = try? PublisherURL(raw), !implemented.contains(url.scheme), recognized.contains(url.scheme) else { return nil }
        return "publisher scheme '\(url.scheme)://' is a Ceilometer publisher Nephometer does not implement; samples are not sent to \(url.redacted)"
    }

    static func unknownScheme(_ url: PublisherURL) -> PublisherURLError {
        let all = implemented + recognized
        let hint = Suggestion.closest(to: url.scheme, in: all).map { " (did you mean '\($0)://'?)" } ?? ""
        return PublisherURLError("unknown publisher scheme '\(url.scheme)://'\(hint); Nephometer publishes to \(implemented.map { "\($0)://" }.joined(separator: ", "))")
    }

    public static func make(url raw: String, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> Outcome {
        let url = try PublisherURL(raw)
        switch url.scheme {
        case "file":
            return .publisher(try FilePublisher(url: url, logger: logger))
        case "udp":
            return .publisher(try UDPPublisher(url: url, secret: context.telemetrySecret, logger: logger))
        case "http", "https":
            return .publisher(try HTTPPublisher(url: url, context: context, logger: logger))
        default:
            if let reason = skipReason(raw) { return .skipped(reason) }
            throw unknownScheme(url)
        }
    }
}
