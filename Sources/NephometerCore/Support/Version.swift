/// The build's version, for `/metrics` (`nephometer_build_info`), `/status` and the AMQP client
/// properties.
public enum Version {
    public static let string = "0.3.0"
}
