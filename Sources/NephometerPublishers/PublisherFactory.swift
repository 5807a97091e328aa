import Logging
import NephometerCore

/// Creates publishers from pipeline.yaml URLs through `PublisherRegistry`.
public enum PublisherFactory {
    public enum Outcome {
        case publisher(any Publisher)
        /// Known Ceilometer scheme we skip, with the reason.
        case skipped(String)
    }

    /// Checks a URL without creating anything: throws for unknown schemes and bad options. The same
    /// check is the first step of `make`.
    public static func check(_ url: PublisherURL, context: PublisherContext = PublisherContext(telemetrySecret: "")) throws(PublisherURLError) {
        if let kind = PublisherRegistry.kind(for: url.scheme) { return try kind.check(url, context: context) }
        if PublisherRegistry.recognized.contains(url.scheme) { return }
        throw unknownScheme(url)
    }

    /// Why a URL's publisher is skipped at run time, or nil when it is implemented.
    public static func skipReason(_ raw: String) -> String? {
        guard let url = try? PublisherURL(raw), PublisherRegistry.kind(for: url.scheme) == nil,
              PublisherRegistry.recognized.contains(url.scheme) else { return nil }
        return "publisher scheme '\(url.scheme)://' is a Ceilometer publisher Nephometer does not implement; samples are not sent to \(url.redacted)"
    }

    static func unknownScheme(_ url: PublisherURL) -> PublisherURLError {
        let implemented = PublisherRegistry.implemented
        let hint = Suggestion.closest(to: url.scheme, in: implemented + PublisherRegistry.recognized).map { " (did you mean '\($0)://'?)" } ?? ""
        return PublisherURLError("unknown publisher scheme '\(url.scheme)://'\(hint); Nephometer publishes to \(implemented.map { "\($0)://" }.joined(separator: ", "))")
    }

    public static func make(url raw: String, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> Outcome {
        let url = try PublisherURL(raw)
        if let kind = PublisherRegistry.kind(for: url.scheme) {
            try kind.check(url, context: context)
            var l = logger
            l[metadataKey: "publisher"] = "\(url.redacted)"
            return .publisher(try kind.make(url, context: context, logger: l))
        }
        if let reason = skipReason(raw) { return .skipped(reason) }
        throw unknownScheme(url)
    }
}
